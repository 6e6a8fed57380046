"""``python -m studio eval RUN_DIR``: base against tuned on held-out data, in numbers and examples."""

from __future__ import annotations

import json
import sys


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "eval", help="score a run's base and tuned models on held-out data",
        description="Compare the base model with the tuned one on held-out examples: eval loss, perplexity, "
                    "ROUGE-L, BLEU and exact match (accuracy and macro F1 for classification runs), a "
                    "side-by-side table of replies, and an overfitting check of the loss curves. "
                    "The result is also saved as evaluation.json in the run folder.")
    p.add_argument("run_dir", help="a run folder (the output_dir of a training run)")
    p.add_argument("--data", default=None, metavar="FILE",
                   help="held-out examples (default: the run's eval file, else the split training held out)")
    p.add_argument("--limit", type=int, default=20, metavar="N",
                   help="evaluate at most N examples (default 20; 0: all). Generation is slow on a CPU")
    p.add_argument("--max-new-tokens", type=int, default=128, metavar="N",
                   help="longest generated reply in tokens (default 128; shorter for short references)")
    p.add_argument("--json", action="store_true", help="print the whole result as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from studio.core.errors import StudioError
    from studio.engine.evaluate import evaluate_run

    if args.limit < 0:
        raise StudioError(f"--limit: {args.limit} is negative; give a number of examples like 20 (0: all)")
    if args.max_new_tokens < 1:
        raise StudioError(f"--max-new-tokens: {args.max_new_tokens} is below 1")

    def progress(fraction: float, message: str) -> None:
        if not args.json and sys.stderr.isatty():
            print(f"\r[{fraction:4.0%}] {message:60.60}", end="", file=sys.stderr, flush=True)

    result = evaluate_run(args.run_dir, args.data, args.limit or None, args.max_new_tokens, progress=progress)
    if not args.json and sys.stderr.isatty():
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
    else:
        print(format_summary(result))
    return 0


def format_summary(result: dict) -> str:
    from studio.engine.evaluate import metrics_table

    lines = []
    if result.get("data"):
        lines.append(f"held-out data: {result['data']}")
    n = result.get("n_examples")
    if n is not None:
        lines.append(f"examples evaluated: {n}" + (f" of {result['held_out_examples']}" if result.get("held_out_examples") else ""))
    seen = result.get("seen_in_training")
    if seen:
        lines.append(f"warning: {seen} of these {n} examples are also in the training data, so they are not held out "
                     "and the tuned scores look better than the model is")
    lines.append("")
    table = [(metric, _num(b), _num(t), _num(change, True), verdict)
             for metric, b, t, change, verdict in metrics_table(result)]
    w = max([10] + [len(cell) + 2 for row in table for cell in row[1:4]])  # large perplexities stay apart
    lines.append(f"{'metric':<13}{'base':>{w}}{'tuned':>{w}}{'change':>{w}}")
    for metric, b, t, change, verdict in table:
        lines.append(f"{metric:<13}{b:>{w}}{t:>{w}}{change:>{w}}  {verdict}".rstrip())
    task = _task(result)
    for note in task.eval_notes(result) if task else []:
        if note.startswith("⚠"):  # a task's warning about the tuned model
            lines.append(f"warning: {note[1:].strip()}")
        else:
            lines.append(f"({note[0].lower()}{note[1:].rstrip('.')})")
    examples = task.example_lines(result) if task else []
    if examples:
        lines += [""] + examples
    lines.append("")
    w = result.get("overfitting")
    if w:
        lines.append(f"warning: {w['kind']}: {w['message']}")
        lines.append("  try: " + "; ".join(w["hints"]))
    else:
        lines.append("overfitting check: no sign of overfitting in the loss curves")
    return "\n".join(lines)


def _num(value, signed: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _task(result: dict):
    from studio import tasks

    return tasks.find(result.get("task") or "")  # None: a task no longer installed; the numbers alone

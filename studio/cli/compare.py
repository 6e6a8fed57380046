"""``python -m studio compare RUN RUN ... [--json]``: runs side by side.

The settings that differ between them (and nothing else), their final figures with the best marked, their losses
at the same steps, and their saved replies to the same held-out prompts (from ``python -m studio eval``).
"""

from __future__ import annotations

import json


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("compare", help="compare two to eight runs side by side",
                              description="Compare runs: differing settings, final figures (best marked with *), "
                                          "loss by step, and replies to the same held-out prompts.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders (each an output_dir of a training run)")
    p.add_argument("--json", action="store_true", help="print everything as JSON (curves included)")
    p.set_defaults(func=run)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return ",".join(map(str, v)) or "(none)"
    return str(v)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def run(args) -> int:
    from studio.server.compare import aligned, compare

    result = compare(args.runs)
    if args.json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
        return 0
    names = [r["name"] for r in result["runs"]]
    print("runs: " + ", ".join(f"{r['name']} ({r['state']})" for r in result["runs"]))
    print("\nsettings that differ:")
    if result["settings"]:
        print(_table(["setting"] + names, [[s["key"]] + [_fmt(v) for v in s["values"]] for s in result["settings"]]))
    else:
        print("  none: the runs were set up alike")
    print("\nfinal figures (* best):")
    rows = []
    for m in result["metrics"]:
        rows.append([m["name"] + (f" ({m['better']} is better)" if m["better"] else "")]
                    + [_fmt(v) + ("*" if i == m["best"] else "") for i, v in enumerate(m["values"])])
    print(_table(["figure"] + names, rows))
    losses = aligned(result, "loss")
    if losses:
        step = max(1, len(losses) // 10)
        print("\ntraining loss by step:")
        print(_table(["step"] + names, [[str(r[0])] + [_fmt(v) for v in r[1:]] for r in losses[::step]]))
    for item in result["replies"]:
        print(f"\nprompt: {item['prompt'][:200]}")
        for name, reply in zip(names, item["replies"]):
            print(f"  {name}: {str(reply or '').strip()[:200]}")
    return 0

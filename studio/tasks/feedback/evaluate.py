"""Base vs tuned on held-out feedback examples: how likely each model finds the desirable and the undesirable answers.

For every held-out example both models score its answer given the prompt: the mean log-probability per answer
token (answers differ in length from prompt to prompt). ``desirable_logp`` averages it over thumbs-up answers
(higher is better), ``undesirable_logp`` over thumbs-down ones (lower is better), and ``feedback_gap`` is the
difference (higher is better: the model tells the good answers from the bad ones). Replies are side by side, with
the preference evaluation's warnings (``studio.tasks.preference.reply_checks``): tuned replies that repeat themselves,
and answers of thumbs-up examples that the base reply had and the tuned one lost.
"""

from __future__ import annotations

from studio.core.splits import held_out_records, seen_in_training
from studio.core.errors import StudioError
from studio.tasks.feedback.setup import example_of
from studio.tasks.preference.evaluate import _prompt_text, answer_ids, answer_logps
from studio.tasks.preference.reply_checks import reply_warnings

REPEAT_ADVICE = "Try fewer steps, a lower learning rate or a higher preference.beta."
LOST_ADVICE = ("Try fewer steps, a lower learning rate or a higher preference.beta; more thumbs-up examples that "
               "give the answer help too.")


def refuse_format(fmt: str) -> str | None:
    if fmt != "feedback":
        return (f"holds {fmt} examples, but this is a feedback run; give held-out answers with a thumbs-up/down "
                "label")
    return None


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 4) if xs else None


def feedback_reply_warnings(rows: list[dict], good: list[bool]) -> list[str]:
    """The reply checks on feedback rows (``prompt``, ``answer``, ``base``, ``tuned``; ``good``: each row's label):
    only a thumbs-up answer says what the reply should keep. Adds each row's flags; returns the warnings."""
    checked = [{"prompt": r.get("prompt", ""), "base": r.get("base", ""), "tuned": r.get("tuned", ""),
                "chosen": r.get("answer", "") if ok else ""} for r, ok in zip(rows, good)]
    warnings, flags = reply_warnings(checked, REPEAT_ADVICE, LOST_ADVICE)
    for row, flag in zip(rows, flags):
        row.update(flag)
    return warnings


def evaluate_feedback(folder, config, data_path, limit, max_new_tokens, report, chat=None) -> dict:
    from studio.core.generate import ChatModels, Sampling

    records, source, total = held_out_records(config, data_path, limit, refuse=refuse_format)
    items = [(r, e) for r, e in ((r, example_of(r)) for r in records) if e is not None]
    if not items:
        raise StudioError(f"none of the {len(records)} held-out records has a prompt, an answer and a label")
    seen = seen_in_training(config, [r for r, _ in items])
    report(0.02, "loading the base and tuned models")
    if chat is None:
        chat = ChatModels(config.model.source, folder.path, config.model.trust_remote_code)
    tok = chat.tokenizer
    encoded = [answer_ids(tok, e["prompt"], e["completion"][0]["content"], config.data.max_length) for _, e in items]
    sizes = [max(1, len(ids) - start) for ids, start in encoded]
    scores, per = {}, {}
    for k, (side, tuned) in enumerate((("base", False), ("tuned", True))):
        report(0.05 + 0.25 * k, f"scoring the answers ({side})")
        per[side] = [lp / n for lp, n in zip(answer_logps(chat, encoded, tuned), sizes)]
        good = [x for x, (_, e) in zip(per[side], items) if e["label"]]
        bad = [x for x, (_, e) in zip(per[side], items) if not e["label"]]
        scores[side] = {"desirable_logp": _mean(good), "undesirable_logp": _mean(bad),
                        "feedback_gap": round(_mean(good) - _mean(bad), 4) if good and bad else None}
    rows = []
    for i, (_, e) in enumerate(items):
        answer = e["completion"][0]["content"]
        sampling = Sampling(max_new_tokens=min(max_new_tokens, 2 * len(tok(answer)["input_ids"]) + 16), temperature=0.0)
        row = {"prompt": _prompt_text(e["prompt"]), "answer": answer, "label": "✓ good" if e["label"] else "✗ bad"}
        for side, tuned in (("base", False), ("tuned", True)):
            report(0.55 + 0.44 * (2 * i + tuned) / (2 * len(items)), f"generating {side} reply {i + 1}/{len(items)}")
            row[side] = chat.reply(e["prompt"], tuned=tuned, sampling=sampling).strip()
            row[f"{side}_logp"] = round(per[side][i], 3)
        rows.append(row)
    warnings = feedback_reply_warnings(rows, [bool(e["label"]) for _, e in items])
    return {"run_dir": str(folder.path), "data": source, "held_out_examples": total, "n_examples": len(items),
            "seen_in_training": seen, "base": scores["base"], "tuned": scores["tuned"], "examples": rows,
            "reply_warnings": warnings}

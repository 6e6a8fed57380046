"""What is shown of a preference evaluation: the verdict, the table of held-out pairs and replies, card examples.
Plain data and text only; the UI and the CLI lay it out."""

from __future__ import annotations

from studio.tasks.chat.views import _short, _cell  # the same cell formatting as chat

COLUMNS = ["Prompt", "Chosen", "Rejected", "Base reply", "Tuned reply", "Base prefers chosen", "Tuned prefers chosen"]


def eval_headline(result: dict) -> str | None:
    base = (result.get("base") or {}).get("preference_accuracy")
    tuned = (result.get("tuned") or {}).get("preference_accuracy")
    if base is None or tuned is None:
        return None
    n = result.get("n_examples") or 0
    verdict = ("✓ The tuned model prefers the chosen answer more often" if tuned > base else
               "➖ The tuned model prefers the chosen answer as often as the base" if tuned == base else
               "⚠ The tuned model prefers the chosen answer less often")
    return f"{verdict}: {_pct(base)} → {_pct(tuned)} of {n} held-out pairs."


def eval_notes(result: dict) -> list[str]:
    """Notes under the verdict; the warnings about the tuned replies (repetition, lost answers) first, marked ⚠."""
    notes = [f"⚠ {w}" for w in result.get("reply_warnings") or []]
    notes += ["A model prefers the chosen answer when it gives it a higher total log-probability than the rejected "
             "one, given the prompt (the comparison DPO trains)."]
    if result.get("pairs_left_out"):
        notes.append(f"{result['pairs_left_out']} held-out records were left out: no prompt, an empty side, or "
                     "the same answer on both sides.")
    return notes


def example_table(result: dict) -> tuple[list[str], list[list]]:
    rows = result.get("examples") or []
    return COLUMNS, [[r.get("prompt", ""), r.get("chosen", ""), r.get("rejected", ""), r.get("base", ""),
                      r.get("tuned", ""), _yes(r.get("base_prefers_chosen")), _yes(r.get("tuned_prefers_chosen"))]
                     for r in rows]


def example_lines(result: dict, show: int = 5) -> list[str]:
    rows = result.get("examples") or []
    lines = []
    for i, row in enumerate(rows[:show], 1):
        lines.append(f"[{i}] prompt:   {_short(row.get('prompt', ''))}")
        lines.append(f"    chosen:   {_short(row.get('chosen', ''))}")
        lines.append(f"    rejected: {_short(row.get('rejected', ''))}")
        lines.append(f"    base:     {_short(row.get('base', ''))}  (prefers chosen: {_yes(row.get('base_prefers_chosen'))})")
        lines.append(f"    tuned:    {_short(row.get('tuned', ''))}  (prefers chosen: {_yes(row.get('tuned_prefers_chosen'))})"
                     + _flags(row))
    if len(rows) > show:
        lines.append(f"... {len(rows) - show} more pairs (use --json for all)")
    return lines


def card_examples(result: dict, show: int = 5) -> list[str]:
    rows = result.get("examples") or []
    if not rows:
        return []
    lines = ["Held-out pairs (greedy decoding):", "", "| Prompt | Chosen | Base | Tuned |", "|---|---|---|---|"]
    for row in rows[:show]:
        lines.append("| " + " | ".join(_cell(row.get(k, "")) for k in ("prompt", "chosen", "base", "tuned")) + " |")
    return lines + [""]


def _flags(row: dict) -> str:
    from studio.tasks.preference.reply_checks import REPEAT_SHARE

    out = []
    if (row.get("tuned_repetition") or 0) >= REPEAT_SHARE:
        out.append(f"repeats itself: {100 * row['tuned_repetition']:.0f}% of its 3-word phrases")
    if row.get("lost_terms"):
        out.append("lost: " + ", ".join(row["lost_terms"]))
    return "  ⚠ " + "; ".join(out) if out else ""


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _yes(value) -> str:
    return "–" if value is None else ("yes" if value else "no")

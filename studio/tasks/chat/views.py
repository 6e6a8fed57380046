"""What is shown of a chat evaluation: notes, the table of held-out prompts and replies, card examples.
Plain data and text only; the UI and the CLI lay it out."""

from __future__ import annotations

COLUMNS = ["Prompt", "Reference", "Base reply", "Tuned reply", "ROUGE-L base", "ROUGE-L tuned"]


def eval_headline(result: dict) -> str | None:
    change = result.get("change") or {}
    if change.get("eval_loss") is None:
        return None
    better = change["eval_loss"] < 0
    return (("✓ The tuned model fits the reference answers better" if better else
             "⚠ The tuned model fits the reference answers worse")
            + f" (eval loss {_num(result['base']['eval_loss'])} → {_num(result['tuned']['eval_loss'])}).")


def eval_notes(result: dict) -> list[str]:
    notes = []
    if result.get("generated") == 0:
        notes.append("These examples have no prompt/answer pairs (plain text), so only the loss is measured.")
    elif result.get("generated") and result.get("short_answers") is False:
        notes.append("The reference answers are long: exact match counts only a reply that repeats one word for word; ROUGE-L and the replies show more.")
    return notes


def example_table(result: dict) -> tuple[list[str], list[list]]:
    rows = result.get("examples") or []
    return COLUMNS, [[r.get("prompt", ""), r.get("reference", ""), r.get("base", ""), r.get("tuned", ""),
                      _num(r.get("base_rougeL")), _num(r.get("tuned_rougeL"))] for r in rows]


def example_lines(result: dict, show: int = 5) -> list[str]:
    rows = result.get("examples") or []
    lines = []
    for i, row in enumerate(rows[:show], 1):
        lines.append(f"[{i}] prompt:    {_short(row.get('prompt', ''))}")
        lines.append(f"    reference: {_short(row.get('reference', ''))}")
        lines.append(f"    base:      {_short(row.get('base', ''))}")
        lines.append(f"    tuned:     {_short(row.get('tuned', ''))}")
    if len(rows) > show:
        lines.append(f"... {len(rows) - show} more examples (use --json for all)")
    return lines


def card_examples(result: dict, show: int = 5) -> list[str]:
    rows = result.get("examples") or []
    if not rows:
        return []
    lines = ["Examples (greedy decoding):", "", "| Prompt | Reference | Base | Tuned |", "|---|---|---|---|"]
    for row in rows[:show]:
        lines.append("| " + " | ".join(_cell(row.get(k, "")) for k in ("prompt", "reference", "base", "tuned")) + " |")
    return lines + [""]


def _num(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:.4f}"


def _short(text: str, limit: int = 100) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"

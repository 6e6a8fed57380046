"""What is shown of a classification evaluation: the verdict and the table of held-out texts. Plain data only."""

from __future__ import annotations

COLUMNS = ["Text", "Label", "Base", "Tuned"]


def eval_headline(result: dict) -> str | None:
    if (result.get("change") or {}).get("accuracy") is None:
        return None
    return f"Accuracy {_num(result['base'].get('accuracy'))} → **{_num(result['tuned'].get('accuracy'))}**."


def example_table(result: dict) -> tuple[list[str], list[list]]:
    rows = result.get("examples") or []
    return COLUMNS, [[r.get("text", ""), r.get("label", ""), _with_prob(r, "base"), _with_prob(r, "tuned")] for r in rows]


def _with_prob(row: dict, side: str) -> str:
    prob = row.get(f"{side}_prob")
    label = row.get(side, "")
    return f"{label} ({prob:.0%})" if isinstance(prob, (int, float)) else str(label)


def _num(value) -> str:
    return "–" if value is None else f"{value:.4f}"

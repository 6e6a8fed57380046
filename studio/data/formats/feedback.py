"""Single-answer feedback: one answer per prompt with a thumbs-up or thumbs-down label (KTO's data).

A file is feedback when it has a prompt (or a conversation) and an answer next to a label column whose values
are all judgements: true/false, 1/0, yes/no, good/bad, up/down, 👍/👎, desirable/undesirable, accepted/rejected.
Normalised records are ``{"messages": [prompt turns..., assistant answer], "label": "true" | "false"}``.
"""

from __future__ import annotations

# Label columns of feedback files, best first (kto_tag: LLaMA-Factory's KTO files).
LABEL_COLUMNS = ("label", "kto_tag", "thumbs", "feedback", "desirable", "is_good", "good", "rating")
GOOD = {"true", "1", "yes", "y", "good", "up", "thumbs up", "thumbs_up", "👍", "desirable", "accepted", "positive",
        "pos", "chosen", "+", "+1"}
BAD = {"false", "0", "no", "n", "bad", "down", "thumbs down", "thumbs_down", "👎", "undesirable", "rejected",
       "negative", "neg", "-", "-1"}


def judgement(value) -> bool | None:
    """True for a thumbs-up label, False for a thumbs-down one, None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1, -1):
        return value == 1
    text = str(value).strip().lower() if value is not None else ""
    return True if text in GOOD else False if text in BAD else None


def holds_judgements(rows: list[dict], col: str) -> bool:
    """Every non-empty value of ``col`` in these rows is a judgement, and there is at least one."""
    values = [r.get(col) for r in rows if r.get(col) not in (None, "")]
    return bool(values) and all(judgement(v) is not None for v in values)


def feedback_label_column(rows: list[dict], names: dict[str, str]) -> str | None:
    """The column of ``names`` (lower-cased name -> name) that holds judgements, if any."""
    for alias in LABEL_COLUMNS:
        col = names.get(alias)
        if col is not None and holds_judgements(rows, col):
            return col
    return None

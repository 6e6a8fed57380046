"""Columns whose names say nothing: guessing the format and the columns from the values they hold."""

from __future__ import annotations

from studio.core.errors import StudioError


# Columns that often sit next to text and are never its label.
_METADATA = {"id", "idx", "index", "source", "url", "link", "lang", "language", "timestamp", "date", "time", "split",
             "meta", "metadata", "title", "author", "name", "domain", "uuid", "created", "updated"}


def _label_by_values(rows: list[dict], keys, text_col) -> str | None:
    """A column that holds labels judging by its values: short, with few distinct values."""
    n = len(rows)
    for k in keys:
        if k == text_col or str(k).strip().lower() in _METADATA:
            continue
        values = [r.get(k) for r in rows if r.get(k) is not None]
        if len(values) < max(2, 0.8 * n) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values):
            continue
        distinct = {str(v) for v in values}
        avg = sum(len(str(v)) for v in values) / len(values)
        if avg <= 30 and 1 < len(distinct) <= max(2, len(values) // 2):
            return k
    return None


def _is_number(s: str) -> bool:
    """Whether a value read as text (from CSV) is a number: such a column holds no text to train on."""
    s = s.strip()
    if not any(c.isdigit() for c in s):
        return False
    try:
        float(s.replace(",", "."))
        return True
    except ValueError:
        return False


def _guess_by_values(rows: list[dict], keys: dict, where: str, file_cols: str) -> tuple[str, dict]:
    """Columns whose names say nothing: judge by what they hold."""
    stats = []
    for k in keys:
        values = [r.get(k) for r in rows if r.get(k) is not None]
        texts = [v for v in values if isinstance(v, str) and not _is_number(v)]
        scalars = [v for v in values if isinstance(v, (str, int, float)) and not isinstance(v, bool)]
        if not values or len(scalars) < 0.8 * len(values):
            continue
        avg = sum(len(str(v)) for v in scalars) / len(scalars)
        stats.append({"col": k, "avg": avg, "distinct": len({str(v) for v in scalars}), "n": len(scalars),
                      "textual": len(texts) >= 0.8 * len(values)})
    textual = [s for s in stats if s["textual"]]
    if not textual:
        raise StudioError(f"{where}no text columns found (columns: {file_cols}); the studio needs at least one column of text")
    text = max(textual, key=lambda s: s["avg"])
    if len(stats) == 1:
        return "text", {"text": text["col"]}
    labels = [s for s in stats if s is not text and s["avg"] <= 30 and s["distinct"] <= max(2, s["n"] // 2)]
    if labels and text["avg"] > labels[0]["avg"]:
        return "classification", {"text": text["col"], "label": labels[0]["col"]}
    long_cols = [s for s in textual if s["avg"] > 30 or s is text]
    if len(long_cols) == 2 and len(stats) == 2:
        return "prompt_completion", {"prompt": long_cols[0]["col"], "completion": long_cols[1]["col"]}
    raise StudioError(f"{where}cannot tell what the columns hold ({file_cols}); choose a format and name the columns, "
                      "e.g. format='classification', columns={'text': ..., 'label': ...}")

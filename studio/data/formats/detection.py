"""Detection: the format of a file and the column that holds each field, from the column names first.

When the names say nothing, ``studio.data.formats.by_values`` judges the columns by what they hold.
"""

from __future__ import annotations

import json

from studio.data.formats.by_values import _guess_by_values, _label_by_values
from studio.data.formats.fields import ALIASES, FIELDS, FORMATS
from studio.data.formats.values import is_verdict
from studio.core.errors import StudioError


def _lookup(keys) -> dict[str, str]:
    """Lower-cased, stripped column name -> the name as it is in the file (first wins)."""
    out: dict[str, str] = {}
    for k in keys:
        out.setdefault(str(k).strip().lower(), k)
    return out


def _find(field: str, names: dict[str, str], taken: set) -> str | None:
    for alias in ALIASES.get(field, (field,)):
        col = names.get(alias)
        if col is not None and col not in taken:
            return col
    return None


def _message_style(rows: list[dict], col: str) -> str | None:
    """'chat' for role/content turns, 'sharegpt' for from/value turns, None if the column holds no turns."""
    for row in rows:
        value = row.get(col)
        if isinstance(value, str) and value.lstrip().startswith("["):
            try:
                value = json.loads(value)
            except ValueError:
                continue
        if isinstance(value, list):
            for m in value:
                if isinstance(m, dict):
                    if "from" in m or "value" in m:
                        return "sharegpt"
                    if "role" in m or "content" in m:
                        return "chat"
    return None


def _format_from_columns(columns: dict) -> str | None:
    roles = set(columns)
    for fmt, role in (("feedback", "verdict"), ("preference", "chosen"), ("classification", "label"), ("alpaca", "instruction"),
                      ("sharegpt", "conversations"), ("chat", "messages"), ("prompt_completion", "completion"),
                      ("prompt_completion", "prompt")):
        if role in roles:
            return fmt
    return None  # {"text": ...} alone: plain text or classification, decided from the file


def detect(rows: list[dict], fmt: str = "auto", columns: dict | None = None, where: str = "") -> tuple[str, dict]:
    """The format and column mapping for these sample rows (raises StudioError when it cannot tell)."""
    columns = {str(k): str(v) for k, v in (columns or {}).items() if v not in (None, "")}
    keys: dict = {}
    for row in rows:
        for k in row:
            keys.setdefault(k, None)
    names = _lookup(keys)
    file_cols = ", ".join(map(str, keys)) or "none"
    for role, col in columns.items():
        if col not in keys:
            real = names.get(col.strip().lower())
            if real is None:
                raise StudioError(f"{where}column '{col}' (for {role}) is not in the file; its columns are: {file_cols}")
            columns[role] = real
    if fmt == "auto" and columns:
        fmt = _format_from_columns(columns) or "auto"
    if fmt != "auto" and fmt not in FORMATS:
        raise StudioError(f"unknown format '{fmt}'; use auto or one of: {', '.join(FORMATS)}")
    if fmt == "auto":
        fmt = _guess(rows, names)
        if set(columns) == {"text"} and fmt != "classification":
            fmt = "text"
        if fmt == "text":  # a text column and an unnamed label column?
            text_col = columns.get("text") or _find("text", names, set())
            label_col = _label_by_values(rows, keys, text_col)
            if label_col is not None:
                fmt, columns = "classification", {"text": text_col, "label": label_col, **columns}
        if fmt is None:
            fmt, guessed = _guess_by_values(rows, keys, where, file_cols)
            columns = {**guessed, **columns}
    need, optional = FIELDS[fmt]
    taken = set(columns.values())
    cols = {}
    for field in need + optional:
        if field in columns:
            cols[field] = columns[field]
            continue
        col = _find(field, names, taken)
        if field == "prompt" and fmt == "preference":  # instruction (+ input) before a lone input, then turns
            col = next((names[a] for a in ("prompt", "question", "query", "instruction", "instructions", "input")
                        if a in names and names[a] not in taken), None) or _find("messages", names, taken)
        if col is None and field == "prompt" and fmt == "feedback":
            col = _find("messages", names, taken)
        if col is not None:
            cols[field] = col
            taken.add(col)
    missing = [f for f in need if f not in cols]
    if missing:
        hint = ", ".join(f"'{f}': ..." for f in missing)
        raise StudioError(f"{where}format '{fmt}' needs a column for {' and '.join(missing)}; the columns are: "
                          f"{file_cols}; name them with columns={{{hint}}}")
    for extra in set(columns) - set(need + optional):
        raise StudioError(f"{where}format '{fmt}' has no field '{extra}'; its fields are: {', '.join(need + optional)}")
    return fmt, cols


def _verdict_column(rows: list[dict], names: dict[str, str]) -> str | None:
    """A column that holds a true/false verdict on every record (by its name and its values)."""
    for alias in ALIASES["verdict"]:
        col = names.get(alias)
        values = [r.get(col) for r in rows if r.get(col) is not None] if col is not None else []
        if values and all(is_verdict(v) for v in values) and any(isinstance(v, bool) or isinstance(v, str) for v in values):
            return col
    return None


def _guess(rows: list[dict], names: dict[str, str]) -> str | None:
    if _find("chosen", names, set()) and _find("rejected", names, set()):
        return "preference"
    verdict = _verdict_column(rows, names)
    if verdict is not None:  # an answer (a completion, or a conversation's last turn) judged good or bad
        taken = {verdict}
        if _find("completion", names, taken) or any(_message_style(rows, names[a]) for a in ALIASES["messages"] if a in names):
            return "feedback"
    for alias in ALIASES["messages"]:
        col = names.get(alias)
        if col is not None:
            style = _message_style(rows, col)
            if style:
                return style
    if "instruction" in names or "instructions" in names:
        return "alpaca"
    taken: set = set()
    prompt = next((names[a] for a in ("prompt", "question", "query", "input") if a in names), None)
    if prompt is not None:
        taken.add(prompt)
        if _find("completion", names, taken):
            return "prompt_completion"
    text = _find("text", names, set())
    if text is not None:
        return "classification" if _find("label", names, {text}) else "text"
    return None

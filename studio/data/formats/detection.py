"""Detection: the format of a file and the column that holds each field, from the column names first.

Each format says whether the names fit it (``DataFormat.matches``, tried in ``rank`` order) and which named fields
make a file its kind (``claims``). When the names say nothing, ``studio.data.formats.by_values`` judges the columns
by what they hold.
"""

from __future__ import annotations

from studio.data.formats import registry
from studio.data.formats.base import find_column
from studio.data.formats.by_values import _guess_by_values
from studio.core.errors import StudioError


def _lookup(keys) -> dict[str, str]:
    """Lower-cased, stripped column name -> the name as it is in the file (first wins)."""
    out: dict[str, str] = {}
    for k in keys:
        out.setdefault(str(k).strip().lower(), k)
    return out


def _format_from_columns(columns: dict):
    """The format the named fields say (a ``verdict`` column: feedback, ``chosen``: preference, ...), or None
    ({"text": ...} alone: plain text or classification, decided from the file)."""
    roles = set(columns)
    return next((fmt for fmt in registry.by_claim_rank() if roles & set(fmt.claims)), None)


def _guess(rows: list[dict], names: dict[str, str], columns: dict):
    """The first format whose ``matches`` says yes; when the person named fields that format lacks, the first
    format those fields are enough for (a named text column alone: plain text)."""
    fmt = next((f for f in registry.by_rank() if f.matches(rows, names)), None)
    if columns and (fmt is None or not set(columns) <= set(fmt.fields())):
        named = set(columns)
        fmt = next((f for f in registry.by_rank() if set(f.required) <= named <= set(f.fields())), fmt)
    return fmt


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
    auto = fmt == "auto"
    found = None if auto else registry.get(fmt)
    if auto and columns:
        found = _format_from_columns(columns)
    if found is None:
        found = _guess(rows, names, columns)
        refined = found.refine(rows, keys, names, columns) if found is not None else None
        if refined is not None:  # e.g. a text column and an unnamed label column: classification
            name, columns = refined
            found = registry.get(name)
        if found is None:
            name, guessed = _guess_by_values(rows, keys, where, file_cols)
            found, columns = registry.get(name), {**guessed, **columns}
    fmt = found.name
    need, optional = tuple(found.required), tuple(found.optional)
    taken = set(columns.values())
    cols = {}
    for field in need + optional:
        if field in columns:
            cols[field] = columns[field]
            continue
        col = find_column(found.column_names(field), names, taken)
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

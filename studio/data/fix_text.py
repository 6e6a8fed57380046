"""Fixes that rewrite the text of records: placeholders filled with the values a person gives
(``fill_placeholders``) and garbled text repaired with ftfy (``repair_text``)."""

from __future__ import annotations

from collections.abc import Callable

from studio.data.health.placeholders import fill_placeholders, placeholder_key
from studio.core.errors import StudioError


def placeholder_values(values: dict | None) -> dict[str, str]:
    """Values keyed by placeholder key; a key may be given as written (``{{name}}``) or as its name."""
    out = {}
    for raw, value in (values or {}).items():
        key = placeholder_key(str(raw))
        if key is None:
            raise StudioError(f"fill: '{raw}' is not a placeholder name; use the names the report lists, e.g. name=Aria")
        if value is None or not str(value).strip():
            continue  # a box left empty: that placeholder stays as it is
        out[key] = str(value)
    return out


def repair(text: str) -> str:
    """Mojibake and other broken Unicode undone by ftfy (its conservative defaults, but curly quotes stay curly:
    they are the text's style, not damage)."""
    import ftfy

    return ftfy.fix_text(text, uncurl_quotes=False)


def rewrite_record(rec: dict, fn: Callable[[str], str]) -> bool:
    """Apply ``fn`` to every text in a record, in place; True when something changed."""
    changed = False
    for m in rec.get("messages") or ():
        new = fn(m["content"])
        if new != m["content"]:
            m["content"], changed = new, True
    for key in ("text", "chosen", "rejected", "completion"):
        if isinstance(rec.get(key), str):
            new = fn(rec[key])
            if new != rec[key]:
                rec[key], changed = new, True
    return changed


def text_fix(name: str, values: dict | None) -> Callable[[str], str]:
    """The text function of a rewriting fix."""
    if name == "repair_text":
        return repair
    filled = placeholder_values(values)
    if not filled:
        raise StudioError("fill_placeholders needs a value for at least one placeholder, e.g. name=Aria "
                          "(on the page: type the values in the boxes under the report)")
    return lambda text: fill_placeholders(text, filled)

"""Template placeholders left in the data (``placeholder``): ``{{name}}``, ``<NAME>``, ``[INSERT NAME]``, ``{name}``.

Each placeholder has a key, its name in lower case with ``_`` between words (``{{ Name }}``, ``<NAME>`` and
``[INSERT NAME]`` are all ``name``); the fix ``fill_placeholders`` replaces each one whose key has a value.
Code (fenced blocks, inline code, and lines that look like code: indented, with an f-string, a call
such as ``print(`` or an assignment) is left alone: braces there are code, not placeholders. The masks the
``pii`` check suggests (``<EMAIL>``, ``<PHONE>``, ...) are deliberate and not counted.
"""

from __future__ import annotations

import re

from studio.data.health.cleanliness import _CODE, _TAGS
from studio.data.health.report import Finding, _have, _s, where

_PATTERN = re.compile(
    r"\{\{\s*(?P<jinja>[A-Za-z_][\w .-]{0,40}?)\s*\}\}"            # {{name}}, {{ user name }}
    r"|\[\s*(?P<insert>(?:INSERT|ENTER|ADD|YOUR)\b[^\]\n]{0,60}?)\s*\]"  # [INSERT NAME], [YOUR COMPANY]
    r"|<(?P<angle>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)>"                # <NAME>, <COMPANY_NAME>
    r"|(?<![{}\\\w$])\{(?P<brace>[a-z][a-z0-9]*(?:_[a-z0-9]+)*)\}(?!\})",  # {placeholder}
    re.IGNORECASE)
_NOT_PLACEHOLDERS = {"email", "phone", "card", "credit_card", "secret", "api_key", "key", "url", "ip", "redacted",
                     "eos", "bos", "pad", "unk", "s", "sep", "cls", "mask"}
_HTML_TAG = re.compile(rf"^(?:{_TAGS})$", re.IGNORECASE)
_INSERT_WORDS = re.compile(r"^(?:insert|enter|add)\s+(?:the\s+|your\s+|a\s+)?", re.IGNORECASE)
_LATEX_BEFORE = re.compile(r"\\[A-Za-z]+$")
# A line that looks like code (indented, an f-string, a call or an assignment): braces there are code.
_CODE_LINE = re.compile(r"""^(?:\t| {4,})|\bf["']|\b(?:print|format|printf|console\.log|echo)\b|\$\{|\breturn\b|\bdef |\w ?= ?\S|;\s*$""")


def placeholder_key(raw: str) -> str | None:
    """The key of a placeholder as written (``{{ User Name }}`` -> ``user_name``), or of a name typed for it."""
    m = _PATTERN.fullmatch(raw.strip())
    name = raw if m is None else next(v for v in m.groupdict().values() if v is not None)
    name = _INSERT_WORDS.sub("", name.strip())
    key = re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")
    return key or None


def find_placeholders(text: str):
    """(start, end, as written, key) of each placeholder outside code in ``text``."""
    if not any(c in text for c in "{[<"):
        return
    masked = _CODE.sub(lambda m: " " * len(m.group(0)), text) if "`" in text else text
    for m in _PATTERN.finditer(masked):
        kind = m.lastgroup
        name = m.group(kind)
        if kind == "angle" and (len(name) < 3 or _HTML_TAG.match(name) or name != name.upper()):
            continue
        if kind == "brace" and (len(name) < 2 or name != name.lower() or _LATEX_BEFORE.search(masked, 0, m.start())):
            continue
        if kind in ("brace", "jinja") and _CODE_LINE.search(_line(masked, m.start())):
            continue
        if kind == "insert" and not (name[:1].isupper() and name.split()[0].isupper()):
            continue  # "[insert ...]" in running text is rarely a placeholder; "[INSERT ...]" is
        key = placeholder_key(m.group(0))
        if key and key not in _NOT_PLACEHOLDERS:
            yield m.start(), m.end(), m.group(0), key


def _line(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start: end if end >= 0 else len(text)]


def placeholder_finder(big: str):
    """A finder for ``_scan_all``: each placeholder, as (start, 'key\\x1fas written')."""
    for start, _end, raw, key in find_placeholders(big):
        yield start, f"{key}\x1f{raw}"


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    """``text`` with each placeholder whose key is in ``values`` replaced by its value."""
    out, last = [], 0
    for start, end, _raw, key in find_placeholders(text):
        if key in values:
            out += [text[last:start], values[key]]
            last = end
    return "".join(out) + text[last:] if out else text


class PlaceholderCheck:
    """The ``placeholder`` check; ``placeholders`` maps each key to how it is written and in how many records."""

    def __init__(self, what: str):
        self.what = what
        self.lines: list[int] = []
        self.placeholders: dict[str, dict] = {}

    def take(self, scans: dict, lines: list[int]) -> None:
        for i, found in sorted(scans["placeholder"].items()):
            self.lines.append(lines[i])
            for key in dict.fromkeys(f.split("\x1f", 1)[0] for f in found):
                raw = next(f.split("\x1f", 1)[1] for f in found if f.startswith(key + "\x1f"))
                entry = self.placeholders.setdefault(key, {"written": raw, "records": 0})
                entry["records"] += 1

    def findings(self) -> list[Finding]:
        idx = self.lines
        if not idx:
            return []
        top = sorted(self.placeholders.items(), key=lambda kv: -kv[1]["records"])
        shown = ", ".join(f"{v['written']} in {v['records']} record{_s(v['records'])}" for _, v in top[:5])
        shown += ", ..." if len(top) > 5 else ""
        return [Finding("placeholder", "warning", len(idx), idx,
                        f"{len(idx)} record{_s(idx)} ({where(self.what, idx)}) {_have(idx)} template placeholders left in "
                        f"({shown}); the model would learn to write them as they are. Fix: fill in placeholders "
                        f"with your values ({', '.join(k for k, _ in top[:8])}), or drop those records.",
                        "fill_placeholders",
                        {"placeholders": [{"key": k, "written": v["written"], "records": v["records"]} for k, v in top]})]

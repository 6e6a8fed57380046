"""Records as the checks see them, and their identities: exact and normalised digests, label keys."""

from __future__ import annotations

import hashlib
import re


def _flat(rec: dict) -> str:
    """Everything in a record, with its structure, as one string (for exact comparison)."""
    msgs = rec.get("messages")
    if msgs is not None:
        s = "\x1e".join(f"{m['role']}\x1f{m['content']}{_calls(m)}" for m in msgs)
        if "chosen" in rec:
            s += f"\x1dchosen\x1f{rec['chosen']}\x1drejected\x1f{rec['rejected']}"
        if "completion" in rec:
            s += f"\x1dcompletion\x1f{rec['completion']}\x1dverdict\x1f{rec.get('verdict')}"
        return s
    if "label" in rec:
        return f"{rec.get('text', '')}\x1dlabel\x1f{rec['label']}"
    return rec.get("text", "")


def _texts(rec: dict) -> str:
    """The text content of a record (for scanning), turns separated by blank lines."""
    msgs = rec.get("messages")
    if msgs is not None:
        s = "\n\n".join(m["content"] + _calls(m) for m in msgs)
        if "chosen" in rec:
            s += f"\n\n{rec['chosen']}\n\n{rec['rejected']}"
        if "completion" in rec:
            s += f"\n\n{rec['completion']}"
        return s
    return rec.get("text", "")


def _calls(m: dict) -> str:
    """A message's tool calls as text (for comparing and scanning records); '' for most messages."""
    calls = m.get("tool_calls")
    if not calls:
        return ""
    import json

    return "\n" + "\n".join(json.dumps(c.get("function", c), ensure_ascii=False, sort_keys=True) for c in calls)


_PUNCT_SPACE = re.compile(r"[\W_]+")
_PUNCT_TABLE: dict | None = None


def _punct_table() -> dict:
    global _PUNCT_TABLE
    if _PUNCT_TABLE is None:
        import unicodedata

        table = {c: " " for c in range(0x3000) if unicodedata.category(chr(c))[0] in "PSZC" and chr(c) not in " \n\t"}
        table.update({c: " " for c in range(0x3000, 0x3040)} | {c: " " for c in range(0xFF00, 0xFF10)})
        _PUNCT_TABLE = table
    return _PUNCT_TABLE


def _norm(s: str) -> str:
    """Lower case, punctuation and symbols as spaces, whitespace runs as one space."""
    return " ".join(s.lower().translate(_punct_table()).split())


def _digest(s: str) -> bytes:
    return hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def exact_key(rec: dict) -> bytes:
    """A record's identity for exact-duplicate checks (a 128-bit digest: memory stays small)."""
    return _digest(_flat(rec))


def norm_key(rec: dict) -> bytes:
    """A record's identity once case, spaces and punctuation are ignored."""
    return _digest(_norm(_flat(rec)))


def label_key(label: str) -> str:
    """Labels with the same key are spellings of one label. Labels made only of punctuation ("+", "-") keep it."""
    key = _PUNCT_SPACE.sub("", label.lower())
    return key if key else " ".join(label.split())

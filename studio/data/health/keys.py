"""Records as the checks see them, and their identities: exact and normalised digests, label keys."""

from __future__ import annotations

import hashlib
import re


def _flat(rec: dict) -> str:
    """Everything in a record, with its structure, as one string (for exact comparison)."""
    msgs = rec.get("messages")
    if msgs is not None:
        s = "\x1e".join(f"{m['role']}\x1f{m['content']}" for m in msgs)
        if "chosen" in rec:
            s += f"\x1dchosen\x1f{rec['chosen']}\x1drejected\x1f{rec['rejected']}"
        if "label" in rec:  # feedback: the same answer with thumbs up and down is not a repeat
            s += f"\x1dlabel\x1f{rec['label']}"
        return s
    if "label" in rec:
        return f"{rec.get('text', '')}\x1dlabel\x1f{rec['label']}"
    return rec.get("text", "")


def _texts(rec: dict) -> str:
    """The text content of a record (for scanning), turns separated by blank lines."""
    msgs = rec.get("messages")
    if msgs is not None:
        s = "\n\n".join(m["content"] for m in msgs)
        if "chosen" in rec:
            s += f"\n\n{rec['chosen']}\n\n{rec['rejected']}"
        return s
    return rec.get("text", "")


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

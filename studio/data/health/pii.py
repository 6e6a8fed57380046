"""Personal data and secrets: emails, phone numbers, payment card numbers (Luhn-checked), API and private keys."""

from __future__ import annotations

import re
from collections import Counter

from studio.data.health.report import Finding, _s, where
from studio.data.health.scan import _scan_all

_EMAIL = re.compile(r"[A-Za-z0-9][\w.+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_PLACEHOLDER_EMAIL = re.compile(r"@(?:[\w-]+\.)*(?:example\.(?:com|org|net)|[\w-]+\.(?:example|test|invalid|localhost))$", re.I)
_CARD = re.compile(r"(?<![\d.-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE = re.compile(
    r"(?<![\w+/.-])(?:"
    r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"  # +44 20 7946 0958, +15551234567
    r"|\(\d{2,4}\)[ .-]?\d{3,4}[ .-]?\d{3,4}"  # (555) 123-4567
    r"|\d{2,4}[ .-]\d{3,4}[ .-]\d{3,4}(?:[ .-]\d{2,4})?"  # 555-123-4567, 020 7946 0958
    r")(?![\w-])"
)
_SECRET = re.compile(
    r"\b(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|hf_[A-Za-z0-9]{30,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20,})"
    r"|-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"
)
_DATE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$|^\d{1,2}[-./]\d{1,2}[-./]\d{4}$")


def luhn_ok(digits: str) -> bool:
    total, alt = 0, False
    for ch in reversed(digits):
        d = ord(ch) - 48
        if alt:
            d *= 2
            if d > 9:
                d -= 9
        total += d
        alt = not alt
    return total % 10 == 0


_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[0568]|6011|64[4-9]|65|62)")


def _is_card(s: str) -> bool:
    """A payment card number: a known issuer prefix, card-like grouping and a valid Luhn check digit."""
    groups = re.split(r"[ -]", s)
    digits = "".join(groups)
    if not (13 <= len(digits) <= 19) or len(set(digits)) == 1 or not _CARD_PREFIX.match(digits):
        return False
    if len(groups) == 1:
        if len(digits) not in (15, 16, 19):
            return False
    elif [len(g) for g in groups] != [4, 6, 5] and not (
            all(len(g) == 4 for g in groups[:-1]) and 1 <= len(groups[-1]) <= 4):
        return False
    return luhn_ok(digits)


def _is_phone(s: str) -> bool:
    s = s.strip()
    digits = re.sub(r"\D", "", s)
    if _DATE.match(s) or len(set(digits)) == 1:
        return False
    if s.startswith("+"):
        if not re.search(r"[ ().-]", s):
            return 10 <= len(digits) <= 13
        return 8 <= len(digits) <= 15
    groups = re.split(r"[ ().-]+", s.strip("("))
    if " " in s and all(len(g) == 3 for g in groups[1:]):  # 100 000 000: a number with thousands separators
        return False
    return 9 <= len(digits) <= 13


def _is_email(s: str) -> bool:
    return not _PLACEHOLDER_EMAIL.search(s)


def find_pii(text: str) -> dict[str, int]:
    """Counts of what look like emails, phone numbers, card numbers and secrets in one text."""
    return dict(Counter(kind for kind, _ in _pii_hits(_scan_all([text], dict(_PII_FINDERS()), lambda t: t)).get(0, [])))


def _pii_hits(scans: dict) -> dict[int, list[tuple[str, str]]]:
    """Record index -> (kind, found) from the PII finders' scans."""
    out: dict[int, list[tuple[str, str]]] = {}
    for kind in ("email address", "API key or private key"):
        for i, found in scans[kind].items():
            out.setdefault(i, []).extend((kind, f) for f in found)
    for i, found in scans["numbers"].items():
        out.setdefault(i, []).extend(found)
    return out


_EMAIL_DOMAIN = re.compile(r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9][\w.+-]*$")


def _find_emails(big: str):
    """Emails, found from their '@' (much faster than trying a match at every character)."""
    for m in _EMAIL_DOMAIN.finditer(big):
        local = _EMAIL_LOCAL.search(big, max(0, m.start() - 64), m.start())
        if local:
            email = big[local.start(): m.end()]
            if _is_email(email):
                yield local.start(), email


_DIGITS = re.compile(r"\d[\d ().+-]{7,24}\d")


def _find_numbers(big: str):
    """Card and phone numbers in one pass: the precise patterns run only around runs of digits."""
    for cand in _DIGITS.finditer(big):
        a, b = max(0, cand.start() - 2), min(len(big), cand.end() + 1)
        cards = set()
        for m in _CARD.finditer(big, a, b):
            if _is_card(m.group(0)):
                cards.add(re.sub(r"\D", "", m.group(0)))
                yield m.start(), ("card number", m.group(0))
        for m in _PHONE.finditer(big, a, b):
            if _is_phone(m.group(0)) and re.sub(r"\D", "", m.group(0)) not in cards:
                yield m.start(), ("phone number", m.group(0))


# Where a secret can start: the pattern is tried only there (str.find is far faster than a regex
# alternation tried at every character of the text).
_SECRET_STARTS = ("sk-", "hf_", "AKIA", "gh", "xox", "AIza", "glpat-", "-----BEGIN ")


def _find_secrets(big: str):
    """API keys and private keys: the matches of _SECRET, as its finditer would give them."""
    hits = []
    for prefix in _SECRET_STARTS:
        pos = big.find(prefix)
        while pos >= 0:
            m = _SECRET.match(big, pos)
            if m:
                hits.append((pos, m.end(), m.group(0)))
            pos = big.find(prefix, pos + 1)
    end = -1
    for start, stop, found in sorted(hits):
        if start >= end:  # not inside an earlier match
            yield start, found
            end = stop


def _PII_FINDERS():  # noqa: N802 - a constant-like list of (kind, finder)
    return (("email address", _find_emails), ("API key or private key", _find_secrets), ("numbers", _find_numbers))




class PiiCheck:
    """The ``pii`` check: which records hold personal data or secrets, and of which kinds."""

    def __init__(self, what: str):
        self.what = what
        self.kinds: Counter = Counter()
        self.lines: list[int] = []

    def take(self, scans: dict, lines: list[int]) -> None:
        """Note what the PII finders found in one chunk (``scans``: finder -> record index -> found)."""
        for i, found in sorted(_pii_hits(scans).items()):
            self.kinds.update(kind for kind, _ in found)
            self.lines.append(lines[i])

    def findings(self) -> list[Finding]:
        if not self.lines:
            return []
        idx = self.lines
        kinds = ", ".join(f"{k} {kind}{'es' if k > 1 and kind.endswith('ss') else 's' if k > 1 else ''}"
                         for kind, k in self.kinds.most_common())
        return [Finding("pii", "warning", len(idx), idx,
                        f"{len(idx)} record{_s(idx)} ({where(self.what, idx)}) contain{'s' if len(idx) == 1 else ''} what "
                        f"look{'s' if len(idx) == 1 else ''} like personal data or secrets ({kinds}); a tuned model can "
                        "repeat them word for word. Fix: remove or mask them (e.g. <EMAIL>, <PHONE>) in the file before training.")]

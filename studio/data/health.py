"""The dataset health report: what in a dataset will hurt training, where it is, and how to fix it.

Each check gives at most one finding, with the records it concerns (their lines in the file for
JSONL, CSV and text; their record numbers for JSON and Parquet), how many there are, and a message
in plain English that ends with the fix. A clean file gives no findings.

Severities: ``error`` means training on the data as it is would be pointless (no answers at all, a
single label); ``warning`` means it will likely hurt the result; ``info`` is worth knowing.

Checks (names are stable; the web UI and ``python -m studio check --json`` use them):

- ``malformed``: rows that could not be read and were left out.
- ``missing_answer``: conversations without an assistant turn (nothing to learn from).
- ``empty``: blank text, prompt or answer, or a blank label.
- ``duplicate``: exact repeats of an earlier record (count = the extra copies).
- ``near_duplicate``: repeats once case, spaces and punctuation are ignored (exact repeats are not
  counted again). Found by hashing a normalised form, so it is linear in the number of records.
- ``conflicting_labels``: the same text (normalised as above) with different labels.
- ``leakage``: training records that also appear in the eval data (compared in normalised form).
- ``imbalance``: a warning when the most common label has more than 3 times the records of the
  rarest (3:1 is where a small classifier starts to favour the majority noticeably); an error when
  there is only one label.
- ``label_variants``: labels that differ only in case, spaces or punctuation ("Positive", "positive ").
- ``too_long``: examples longer than the max length in the model's own tokens (as the chat template
  renders them; classification text as the classifier reads it); they would be cut at the end, where
  the answer usually is. A warning from 5%. Sets over 10,000 records are measured on a sample.
- ``pii``: email addresses, phone numbers, payment card numbers (Luhn-checked) and API keys or
  private keys (OpenAI ``sk-``, Hugging Face ``hf_``, AWS ``AKIA``, GitHub, Slack, Google).
- ``markup``: HTML tags and entities everywhere (outside code blocks in conversations), and Markdown
  residue (bold, links, headings) in plain text and classification data, where it is scraping residue
  rather than answer style.
- ``encoding``: mojibake (UTF-8 read as Windows-1252: "Ã©", "â€™"), replacement characters and
  control characters; an info note when the file was not UTF-8, or when some of its lines were not.

The checks make one pass over the records, in chunks, keeping digests and line numbers rather than
records, so ``check_dataset(open_records(path))`` reports on a file of any size in little memory.
"""

from __future__ import annotations

import bisect
import hashlib
import random
import re
from array import array
from collections import Counter
from dataclasses import dataclass, field

from studio.data.formats import CHAT_LIKE
from studio.data.intake import Dataset

MAX_LISTED = 50  # records listed per finding in to_dict(); count is always the full number
IMBALANCE_RATIO = 3.0
TOO_LONG_WARN = 0.05
LENGTH_SAMPLE = 10_000  # records tokenized for the length check; larger sets are sampled (share within about 1%)
SEVERITIES = ("error", "warning", "info")
_CHUNK = 2000  # records scanned per regex pass


@dataclass
class Finding:
    check: str
    severity: str  # 'error' | 'warning' | 'info'
    count: int
    records: list[int]  # lines (line-based files) or 1-based record numbers, all of them
    message: str
    fix: str | None = None  # the name of the fix in studio.data.fixes that resolves it, if there is one

    def to_dict(self) -> dict:
        return {"check": self.check, "severity": self.severity, "count": self.count,
                "records": list(self.records[:MAX_LISTED]), "message": self.message, "fix": self.fix}


@dataclass
class Report:
    format: str
    rows: int
    findings: list[Finding] = field(default_factory=list)
    labels: dict[str, int] | None = None
    source: str = ""
    lengths: list[int] | None = None  # tokens per example (record order; a sample for large sets)
    length_sampled: bool = False

    def to_dict(self) -> dict:
        return {"format": self.format, "rows": self.rows, "findings": [f.to_dict() for f in self.findings],
                "labels": self.labels}

    def get(self, check: str) -> Finding | None:
        return next((f for f in self.findings if f.check == check), None)

    @property
    def worst(self) -> str | None:
        """The most severe finding's severity, or None for a clean report."""
        for sev in SEVERITIES:
            if any(f.severity == sev for f in self.findings):
                return sev
        return None


# ----------------------------------------------------------------------------- record views

def _flat(rec: dict) -> str:
    """Everything in a record, with its structure, as one string (for exact comparison)."""
    msgs = rec.get("messages")
    if msgs is not None:
        s = "\x1e".join(f"{m['role']}\x1f{m['content']}" for m in msgs)
        if "chosen" in rec:
            s += f"\x1dchosen\x1f{rec['chosen']}\x1drejected\x1f{rec['rejected']}"
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


# ----------------------------------------------------------------------------- patterns

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

_TAGS = ("a|abbr|b|blockquote|body|br|button|center|code|div|em|font|form|h[1-6]|head|hr|html|i|iframe|img|input|"
         "label|li|link|meta|nav|ol|option|p|pre|script|section|select|small|span|strong|style|sub|sup|table|"
         "tbody|td|th|thead|title|tr|u|ul")
_HTML = re.compile(rf"</?(?:{_TAGS})(?:\s[^<>]{{0,500}})?/?>|&(?:amp|lt|gt|quot|apos|nbsp|#\d{{2,5}}|#x[0-9a-fA-F]{{2,4}});",
                   re.IGNORECASE)
_MARKDOWN = re.compile(r"\*\*[^*\n]{1,100}\*\*|!?\[[^\]\n]{1,200}\]\((?:https?://|www\.|/)[^)\s]*\)|^#{1,6} \S|^```",
                       re.MULTILINE)
_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]+`", re.DOTALL)

_CP1252_HIGH = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
_MOJIBAKE = re.compile(rf"[ÂÃ][\u0080-\u00bf{_CP1252_HIGH}]|â€[\u0080-\u00bf{_CP1252_HIGH}]")
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")


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


def _regex(pattern: re.Pattern, keep=None, needles: tuple[str, ...] = ()):
    """A finder: the matches of ``pattern`` that ``keep`` accepts; skipped when no needle is in the text."""
    def find(big: str):
        if needles and not any(n in big for n in needles):
            return
        for m in pattern.finditer(big):
            if keep is None or keep(m.group(0)):
                yield m.start(), m.group(0)
    return find


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


def _scan(texts, finder) -> dict[int, list[str]]:
    """Record index -> found strings for one finder (or pattern) over a list of texts."""
    return _scan_all(texts, {"x": finder}, lambda t: t)["x"]


def _scan_all(items, finders: dict, text_of=_texts) -> dict[str, dict[int, list[str]]]:
    """For each finder: record index -> found strings. Records are joined into one string per chunk of
    records, so each pattern makes one pass per chunk instead of one call per record."""
    finders = {k: (_regex(f) if isinstance(f, re.Pattern) else f) for k, f in finders.items()}
    hits: dict[str, dict[int, list[str]]] = {k: {} for k in finders}
    for base in range(0, len(items), _CHUNK):
        part = [text_of(r) for r in items[base: base + _CHUNK]]
        starts, pos = [], 0
        for t in part:
            starts.append(pos)
            pos += len(t) + 2
        big = "\n\n".join(part)
        for key, finder in finders.items():
            found_here = hits[key]
            last = None
            for start, found in finder(big):
                if (start, found) == last:
                    continue
                last = (start, found)
                i = bisect.bisect_right(starts, start) - 1
                found_here.setdefault(base + i, []).append(found)
    return hits


# ----------------------------------------------------------------------------- the report

def check_dataset(ds, eval_ds=None, tokenizer=None, max_length: int | None = None,
                  length_sample: int = LENGTH_SAMPLE) -> Report:
    """Run every check on a dataset (and its eval set, for leakage); see the module docs.

    ``ds`` and ``eval_ds`` are ``Dataset`` objects, or ``RecordStream`` objects from ``open_records``:
    a stream is read once, in chunks, and the report keeps only digests and line numbers of what it
    has seen (and a sample of records for the length check), so memory stays small for big files.
    """
    eval_keys = _eval_keys(eval_ds) if eval_ds is not None else None
    checker = _Checker(ds, eval_keys, length_sample if tokenizer is not None else 0)
    for lines, records in _chunks(ds):
        checker.feed(records, lines)
    return checker.finish(ds, tokenizer, max_length)


def _chunks(ds):
    """(lines, records) of a Dataset or a RecordStream, _CHUNK records at a time."""
    if isinstance(ds, Dataset):
        for b in range(0, len(ds.records), _CHUNK):
            yield ds.lines[b: b + _CHUNK], ds.records[b: b + _CHUNK]
        return
    lines, records = [], []
    for n, rec in ds:
        lines.append(n)
        records.append(rec)
        if len(records) >= _CHUNK:
            yield lines, records
            lines, records = [], []
    if records:
        yield lines, records


def _eval_keys(eval_ds) -> Counter:
    """Normalised digests of the eval records, with how many eval records have each."""
    keys: Counter = Counter()
    for _, records in _chunks(eval_ds):
        keys.update(norm_key(r) for r in records)
    return keys


class _Checker:
    """The checks, fed chunk by chunk in record order; ``finish`` makes the report."""

    def __init__(self, ds, eval_keys: Counter | None, length_sample: int):
        self.format = ds.format
        self.what = "lines" if ds.line_based else "records"
        self.chat_like = ds.format in CHAT_LIKE or ds.format == "preference"
        self.eval_keys = eval_keys
        self.n = 0
        self.missing: list[int] = []
        self.empty: list[int] = []
        self.exact_first: dict[bytes, int] = {}
        self.near_first: dict[bytes, int] = {}
        self.dups: list[int] = []
        self.dup_example: tuple[int, int] | None = None
        self.near: list[int] = []
        self.near_example: tuple[int, int] | None = None
        self.leaked: list[int] = []
        self.leaked_keys: set[bytes] = set()
        # classification
        self.label_counts: Counter = Counter()
        self.label_lines: dict[str, array] = {}
        self.by_text: dict[bytes, tuple | list] = {}  # text digest -> (label key, line), or [label keys, lines]
        # content
        self.finders = dict(_PII_FINDERS())
        self.finders["html"] = _regex(_HTML, None, ("<", "&"))
        if ds.format in ("text", "classification"):
            self.finders["markdown"] = _regex(_MARKDOWN, None, ("**", "](", "#", "```"))
        self.finders["mojibake"] = _regex(_MOJIBAKE, None, ("Ã", "Â", "â€"))
        self.finders["bad_chars"] = _regex(_BAD_CHARS)
        self.pii_kinds: Counter = Counter()
        self.pii_lines: list[int] = []
        self.markup_lines: list[int] = []
        self.markup_kinds: set[str] = set()
        self.markup_examples: list[str] = []
        self.enc_lines: list[int] = []
        self.moj_records = 0
        self.moj_examples: list[str] = []
        self.n_ctrl = self.n_repl = 0
        # too_long: a reservoir sample of (position, line, record)
        self.sample_size = length_sample
        self.sample: list[tuple[int, int, dict]] = []
        self.rng = random.Random(0)

    def feed(self, records: list[dict], lines: list[int]) -> None:
        base = self.n
        self.n += len(records)
        self._answers(records, lines)
        self._repeats(records, lines)
        if self.format == "classification":
            self._labels(records, lines)
        self._content(records, lines)
        if self.sample_size:
            k, sample, rng = self.sample_size, self.sample, self.rng
            for pos, (n, rec) in enumerate(zip(lines, records), base):
                if pos < k:
                    sample.append((pos, n, rec))
                else:
                    j = rng.randrange(pos + 1)
                    if j < k:
                        sample[j] = (pos, n, rec)

    # ------------------------------------------------------------------ per chunk

    def _answers(self, records, lines) -> None:
        missing, empty = self.missing, self.empty
        if self.chat_like:
            for n, rec in zip(lines, records):
                msgs = rec["messages"]
                if "chosen" in rec:
                    if not rec["chosen"].strip() or not rec["rejected"].strip() or any(not m["content"].strip() for m in msgs):
                        empty.append(n)
                    continue
                if not any(m["role"] == "assistant" for m in msgs):
                    missing.append(n)
                elif any(not m["content"].strip() for m in msgs):
                    empty.append(n)
        else:
            for n, rec in zip(lines, records):
                if not rec.get("text", "").strip() or ("label" in rec and not rec["label"].strip()):
                    empty.append(n)

    def _repeats(self, records, lines) -> None:
        exact_first, near_first, eval_keys = self.exact_first, self.near_first, self.eval_keys
        for n, rec in zip(lines, records):
            flat = _flat(rec)
            j = exact_first.setdefault(_digest(flat), n)
            dup = j != n
            if dup:
                self.dups.append(n)
                if self.dup_example is None:
                    self.dup_example = (n, j)
            k = _digest(_norm(flat))
            j = near_first.setdefault(k, n)
            if j != n and not dup:
                self.near.append(n)
                if self.near_example is None:
                    self.near_example = (n, j)
            if eval_keys and k in eval_keys:
                self.leaked.append(n)
                self.leaked_keys.add(k)

    def _labels(self, records, lines) -> None:
        counts, label_lines, by_text = self.label_counts, self.label_lines, self.by_text
        for n, rec in zip(lines, records):
            label = rec["label"]
            counts[label] += 1
            arr = label_lines.get(label)
            if arr is None:
                arr = label_lines[label] = array("q")
            arr.append(n)
            text = _norm(rec["text"])
            if not text:
                continue
            key, lab = _digest(text), label_key(label)
            seen = by_text.get(key)
            if seen is None:
                by_text[key] = (lab, n)
            elif isinstance(seen, tuple):
                by_text[key] = [{seen[0], lab}, [seen[1], n]]
            else:
                seen[0].add(lab)
                seen[1].append(n)

    def _content(self, records, lines) -> None:
        scans = _scan_all(records, self.finders)
        for i, found in sorted(_pii_hits(scans).items()):
            self.pii_kinds.update(kind for kind, _ in found)
            self.pii_lines.append(lines[i])
        html = scans["html"]
        if self.chat_like and html:  # HTML inside code blocks is content, not residue
            html = {i: m for i, m in html.items() if _HTML.search(_CODE.sub(" ", _texts(records[i])))}
        md = scans.get("markdown", {})
        if html:
            self.markup_kinds.add("HTML")
        if md:
            self.markup_kinds.add("Markdown")
        for i in sorted(set(html) | set(md)):
            if len(self.markup_lines) < 50:
                self.markup_examples += html.get(i, []) + md.get(i, [])
            self.markup_lines.append(lines[i])
        moj, bad = scans["mojibake"], scans["bad_chars"]
        for i in sorted(moj):
            if self.moj_records < 50:
                self.moj_examples += moj[i]
            self.moj_records += 1
        for found in bad.values():
            repl = sum(1 for c in found if c == "\ufffd")
            self.n_repl += repl
            self.n_ctrl += len(found) - repl
        self.enc_lines += [lines[i] for i in sorted(set(moj) | set(bad))]

    # ------------------------------------------------------------------ the report

    def where(self, lines: list[int], n: int = 3) -> str:
        shown = ", ".join(str(x) for x in lines[:n])
        return f"{self.what[:-1] if len(lines) == 1 else self.what} {shown}{', ...' if len(lines) > n else ''}"

    def finish(self, ds, tokenizer, max_length) -> Report:
        report = Report(format=self.format, rows=self.n, source=ds.source)
        add = report.findings.append
        what, where = self.what, self.where

        # malformed (complete once a stream has been read)
        if ds.malformed:
            bad = ds.malformed
            first = "; ".join(f"{'line' if ds.line_based else 'record'} {n}: {why}" for n, why in bad[:3])
            add(Finding("malformed", "warning", len(bad), [n for n, _ in bad],
                        f"{len(bad)} row{_s(bad)} could not be read and {_are(bad)} left out ({first}"
                        f"{'; ...' if len(bad) > 3 else ''}). Fix the rows in the file if they matter; the rest loads as it is.",
                        "drop_malformed"))

        missing, empty = self.missing, self.empty
        if missing:
            sev = "error" if len(missing) == self.n else "warning"
            add(Finding("missing_answer", sev, len(missing), missing,
                        f"{len(missing)} conversation{_s(missing)} ({where(missing)}) {_have(missing)} no assistant answer, "
                        "so there is nothing to learn from them. Fix: add the answers (an 'output', 'completion' or assistant "
                        "turn), or drop those records.", "drop_empty"))
        if empty:
            thing = "text or label" if self.format in ("text", "classification") else "prompt or answer"
            add(Finding("empty", "warning", len(empty), empty,
                        f"{len(empty)} record{_s(empty)} ({where(empty)}) {_have(empty)} a blank {thing}. "
                        "Fix: fill them in or drop empty records.", "drop_empty"))

        dups, near = self.dups, self.near
        if dups:
            n, j = self.dup_example
            add(Finding("duplicate", "warning", len(dups), dups,
                        f"{len(dups)} record{_s(dups)} {_repeat(dups)} an earlier record exactly (e.g. {what[:-1]} {n} "
                        f"repeats {what[:-1]} {j}). Repeats weigh those examples more and leak into the eval split. "
                        "Fix: drop duplicates.", "drop_duplicates"))
        if near:
            n, j = self.near_example
            add(Finding("near_duplicate", "warning", len(near), near,
                        f"{len(near)} record{_s(near)} {_repeat(near)} an earlier record once case, spaces and punctuation are "
                        f"ignored (e.g. {what[:-1]} {n} and {what[:-1]} {j}). "
                        "Fix: drop near duplicates.", "drop_near_duplicates"))
        self.exact_first = self.near_first = {}

        if self.format == "classification":
            clash = [v for v in self.by_text.values() if isinstance(v, list) and len(v[0]) > 1]
            if clash:
                idx = sorted(n for v in clash for n in v[1])
                add(Finding("conflicting_labels", "warning", len(idx), idx,
                            f"{len(clash)} text{_s(clash)} appear{'s' if len(clash) == 1 else ''} with different labels "
                            f"({where(idx)}), which teaches the model both answers. Fix: keep the right label and drop the others."))
            self.by_text = {}

        leaked = self.leaked
        if leaked:
            n_eval = sum(self.eval_keys[k] for k in self.leaked_keys)
            add(Finding("leakage", "warning", len(leaked), leaked,
                        f"{len(leaked)} training record{_s(leaked)} ({where(leaked)}) also {_are_in(leaked)} the eval data "
                        f"({n_eval} eval record{_s(n_eval)}), so eval scores would look better than the model is. "
                        "Fix: drop the leaked records from the training data.", "drop_leaked"))

        if self.format == "classification":
            report.labels = dict(self.label_counts.most_common())
            self._label_findings(report)
        self._content_findings(report, ds)
        if self.sample_size and tokenizer is not None:
            self._length_findings(report, ds, tokenizer, max_length)
        return report

    def _label_findings(self, report: Report) -> None:
        add = report.findings.append
        counts = self.label_counts
        n = sum(counts.values())
        if len(counts) == 1:
            (label, k), = counts.items()
            add(Finding("imbalance", "error", k, [], f"Every record has the label '{label}'; a classifier needs at least two "
                        "labels to learn anything. Fix: add examples of the other labels."))
        elif counts:
            (top, k_top), (low, k_low) = counts.most_common()[0], counts.most_common()[-1]
            ratio = k_top / k_low
            if ratio > IMBALANCE_RATIO:
                rare = [lab for lab, k in counts.items() if k * IMBALANCE_RATIO < k_top]
                shares = ", ".join(f"'{lab}' {k} ({100 * k / n:.0f}%)" for lab, k in counts.most_common(6))
                add(Finding("imbalance", "warning", len(rare), [],
                            f"Labels are unbalanced: {shares}{', ...' if len(counts) > 6 else ''}; '{top}' has {ratio:.1f} times "
                            f"the records of '{low}' (above {IMBALANCE_RATIO:.0f}:1), so the model may learn to favour '{top}'. "
                            "Fix: add examples of the rare labels, or turn on 'Balance classes' (class weights) in training."))
        groups: dict[str, Counter] = {}
        for lab, k in counts.items():
            groups.setdefault(label_key(lab), Counter())[lab] = k
        variants = {key: c for key, c in groups.items() if len(c) > 1}
        if variants:
            canon = {lab: c.most_common(1)[0][0] for c in variants.values() for lab in c}
            idx = sorted(n for lab, best in canon.items() if lab != best for n in self.label_lines[lab])
            desc = "; ".join(" and ".join(repr(lab) for lab in c) + f" -> {c.most_common(1)[0][0]!r}" for c in list(variants.values())[:4])
            add(Finding("label_variants", "warning", len(idx), idx,
                        f"Labels that differ only in case, spaces or punctuation would be learned as different classes: {desc} "
                        f"({len(idx)} record{_s(idx)} to change). Fix: merge label variants into the most common spelling.",
                        "merge_label_variants"))

    def _content_findings(self, report: Report, ds) -> None:
        add, where = report.findings.append, self.where
        if self.pii_lines:
            idx = self.pii_lines
            what = ", ".join(f"{k} {kind}{'es' if k > 1 and kind.endswith('ss') else 's' if k > 1 else ''}"
                             for kind, k in self.pii_kinds.most_common())
            add(Finding("pii", "warning", len(idx), idx,
                        f"{len(idx)} record{_s(idx)} ({where(idx)}) contain{'s' if len(idx) == 1 else ''} what look{'s' if len(idx) == 1 else ''} "
                        f"like personal data or secrets ({what}); a tuned model can repeat them word for word. "
                        "Fix: remove or mask them (e.g. <EMAIL>, <PHONE>) in the file before training."))
        if self.markup_lines:
            idx = self.markup_lines
            shown = ", ".join(list(dict.fromkeys(repr(e[:40]) for e in self.markup_examples))[:3])
            kinds_txt = " and ".join(k for k in ("HTML", "Markdown") if k in self.markup_kinds)
            add(Finding("markup", "warning", len(idx), idx,
                        f"{len(idx)} record{_s(idx)} ({where(idx)}) contain{'s' if len(idx) == 1 else ''} {kinds_txt} markup "
                        f"such as {shown}; the model would learn to write it. Fix: strip markup.", "strip_markup"))
        legacy = list(getattr(ds, "legacy_lines", None) or [])
        if self.enc_lines:
            idx = self.enc_lines
            parts = []
            if self.moj_examples:
                ex = list(dict.fromkeys(self.moj_examples))[:3]
                parts.append(f"garbled characters such as {', '.join(repr(e) for e in ex)} (UTF-8 text that was once read "
                             "as Windows-1252)")
            if self.n_repl:
                parts.append(f"{self.n_repl} replacement character{'s' if self.n_repl > 1 else ''} (\ufffd, text lost in a failed decoding)")
            if self.n_ctrl:
                parts.append(f"{self.n_ctrl} control character{'s' if self.n_ctrl > 1 else ''}")
            add(Finding("encoding", "warning", len(idx), idx,
                        f"{len(idx)} record{_s(idx)} ({where(idx)}) {_have(idx)} {'; '.join(parts)}. Fix: export the data again "
                        "from its source as UTF-8, or repair the text (e.g. with the ftfy package) before training."))
        elif legacy:
            k = len(legacy)
            shown = ", ".join(map(str, legacy[:3])) + (", ..." if k > 3 else "")
            add(Finding("encoding", "info", k, legacy if ds.line_based else [],
                        f"{k} line{_s(k)} of the file (line{_s(k)} {shown}) {'is' if k == 1 else 'are'} not UTF-8 like the rest; "
                        f"{'it was' if k == 1 else 'they were'} read as {getattr(ds, 'fallback_encoding', '') or 'cp1252'}. "
                        "If accented letters look wrong there, save the file as UTF-8 and load it again."))
        elif ds.encoding not in ("utf-8", "ascii"):
            add(Finding("encoding", "info", 0, [], f"The file is not UTF-8; it was read as {ds.encoding}. If any accented "
                        "letters look wrong in the preview, save the file as UTF-8 and load it again."))

    def _length_findings(self, report: Report, ds, tokenizer, max_length: int | None) -> None:
        from studio.tokenize import render_text

        n, where = self.n, self.where
        sample = sorted(self.sample)
        self.sample = []
        report.length_sampled = n > len(sample)
        chat_like = self.chat_like
        texts, kept, failed = [], [], []
        for _, line, rec in sample:
            try:
                # classification trains on the text alone (no end-of-text token): measure it the same way
                texts.append(rec.get("text", "") if self.format == "classification" else render_text(tokenizer, rec))
                kept.append(line)
            except Exception as e:  # noqa: BLE001 - a template that rejects a record: report it, keep going
                failed.append((line, str(e).splitlines()[0] if str(e) else type(e).__name__))
        lengths: list[int] = []
        for b in range(0, len(texts), 1000):
            enc = tokenizer(texts[b: b + 1000], add_special_tokens=not chat_like)["input_ids"]
            lengths.extend(len(x) for x in enc)
        report.lengths = lengths
        if failed:
            bad = [line for line, _ in failed]
            report.findings.append(Finding("too_long", "warning", len(failed), bad,
                                           f"{len(failed)} record{_s(failed)} ({where(bad)}) could not be "
                                           f"rendered with the model's chat template ({failed[0][1]}). Fix: check the roles "
                                           "and their order in those conversations."))
        if not max_length or not lengths:
            return
        cut = [line for line, k in zip(kept, lengths) if k > max_length]
        if not cut:
            return
        share = len(cut) / len(lengths)
        longest = max(lengths)
        est = f" (estimated from {len(lengths):,} sampled records)" if report.length_sampled else ""
        count = round(share * n) if report.length_sampled else len(cut)
        lost = "the end, where the answer is" if chat_like else "the end"
        report.findings.append(Finding(
            "too_long", "warning" if share >= TOO_LONG_WARN else "info", count, cut,
            f"{count} of {n} examples ({100 * share:.1f}%){est} are longer than {max_length} tokens and would be cut at "
            f"{lost} ({where(cut)}; the longest has {longest} tokens). Fix: raise the max length (more memory), "
            "or shorten or drop those examples."))


def _s(x) -> str:
    n = x if isinstance(x, int) else len(x)
    return "" if n == 1 else "s"


def _are(x) -> str:
    return "is" if len(x) == 1 else "are"


def _are_in(x) -> str:
    return "is in" if len(x) == 1 else "are in"


def _have(x) -> str:
    return "has" if len(x) == 1 else "have"


def _repeat(x) -> str:
    return "repeats" if len(x) == 1 else "repeat"

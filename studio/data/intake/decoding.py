"""Reading a data file as text: its encoding (UTF-8, a legacy one, or UTF-8 with some legacy lines), and its lines.

Text is UTF-8 (with or without a byte-order mark) or, when it is not, a legacy encoding found by
charset-normalizer (Western European text is read as Windows-1252). Text full of control characters
is refused as binary, like a file with zero bytes.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

from studio.core.errors import StudioError

SAMPLE_BYTES = 1 << 20  # bytes looked at to find the encoding
BINARY_SHARE = 0.05  # control characters in decoded text beyond this share: a binary file
# Legacy encodings with several bytes per character: a file in one of them is decoded as a whole.
_MULTIBYTE = ("cp932", "shift_jis", "euc_jp", "euc_jis", "iso2022", "gb2312", "gbk", "gb18030", "hz", "big5", "cp950",
              "euc_kr", "cp949", "johab", "utf_16", "utf_32", "utf_7")

# Legacy encodings of languages whose text cp1252 would garble; other Latin text is read as cp1252.
_CENTRAL_EUROPEAN = {"Polish", "Czech", "Slovak", "Hungarian", "Croatian", "Slovene", "Romanian", "Serbian"}
_LATIN_ALPHABETS = {"Basic Latin", "Control character", "General Punctuation", "Latin-1 Supplement",
                    "Latin Extended-A", "Latin Extended-B", "Currency Symbols", "Letterlike Symbols"}

Row = tuple[int, "dict | None", "str | None"]  # (line, raw row, reason it is unusable)


class FileReader:
    """One file being read: its encoding and its lines. The readers (``csv_rows``, ``json_rows``, ...) turn
    it into raw rows ``(line, dict | None, reason)``."""

    def __init__(self, path: Path, name: str):
        self.path, self.name = path, name
        self.encoding = "utf-8"
        self.bom = b""
        self.whole = False  # True for UTF-16/32: decoded as a whole, not line by line
        self.kind = ""
        self.names: set[str] = set()  # column names the caller gave: a first CSV row with one of them is the header
        self.fallback = "cp1252"  # for lines of a UTF-8 file that are not UTF-8
        self.legacy_lines: list[int] = []  # those lines

    def sniff_text(self) -> None:
        """Find the encoding from the first SAMPLE_BYTES; refuse binary files."""
        with open(self.path, "rb") as fh:
            head = fh.read(SAMPLE_BYTES)
            at_end = not fh.read(1)
        for bom, enc in ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
                         (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
            if head.startswith(bom):
                self.bom, self.encoding, self.whole = bom, enc, enc != "utf-8"
                return
        if b"\x00" in head[:8192]:
            raise StudioError(f"{self.name} looks like a binary file, not text; export the data as CSV or JSONL")
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head, final=at_end)
            return
        except UnicodeDecodeError:
            pass
        lines = head.splitlines()
        if not at_end and len(lines) > 1:
            lines = lines[:-1]  # the last one may be cut
        good, bad = [], []
        for line in lines:
            if line.isascii():
                continue
            try:
                line.decode("utf-8")
                good.append(line)
            except UnicodeDecodeError:
                bad.append(line)
        bad_set = set(bad)
        legacy = _legacy_encoding(b"\n".join(bad) if bad and good else head)
        if good and not legacy.lower().replace("-", "_").startswith(_MULTIBYTE):
            # UTF-8 with some lines in a legacy encoding (files joined from several exports): each
            # line is read as UTF-8 when it is, and in the legacy encoding when it is not.
            self.fallback = legacy
        else:
            self.encoding = legacy
        if self.encoding == "utf-8":
            text = "\n".join(ln.decode(self.fallback, errors="replace") if ln in bad_set else ln.decode("utf-8", errors="replace")
                             for ln in lines)
        else:
            text = head.decode(self.encoding, errors="replace")
        controls = sum(1 for c in text if (c < " " and c not in "\t\n\r\f\v") or c == "\ufffd")
        if controls > BINARY_SHARE * max(1, len(text)):
            raise StudioError(f"{self.name} looks like a binary file, not text; export the data as CSV or JSONL")

    def decode_line(self, raw: bytes, n: int) -> str:
        """One line of a UTF-8 file; lines that are not UTF-8 are read in the fallback encoding."""
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.legacy_lines.append(n)
            return raw.decode(self.fallback, errors="replace")

    def raw_lines(self) -> Iterator[bytes]:
        if self.whole:
            text = self.path.read_bytes()[len(self.bom):].decode(self.encoding, errors="replace")
            for line in text.splitlines(keepends=True):
                yield line.encode("utf-8")
            return
        with open(self.path, "rb") as fh:
            first = True
            for raw in fh:
                if first:
                    raw, first = raw[len(self.bom):], False
                yield raw

    def text_lines(self, track: bool = False) -> Iterator[str]:
        """The file's lines as text; with ``track``, lines read in the fallback encoding are noted."""
        if self.encoding != "utf-8" and not self.whole:
            enc = self.encoding
            for raw in self.raw_lines():
                yield raw.decode(enc, errors="replace")
            return
        for n, raw in enumerate(self.raw_lines(), 1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                if track:
                    self.legacy_lines.append(n)
                yield raw.decode(self.fallback, errors="replace")


def _legacy_encoding(sample: bytes) -> str:
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(sample).best()
    except ImportError:
        best = None
    # A few accented letters are too little for charset-normalizer (it may say Big5 for "très bien"):
    # there, text that reads as Western European in Windows-1252 is taken to be that.
    few = sum(1 for b in sample if b > 127) < _FEW_NON_ASCII
    if (best is None or few) and _reads_as_western(sample):
        return "cp1252"
    if best is None:
        return "cp1252"
    enc = best.encoding
    if enc in ("ascii", "utf_8"):
        return "cp1252"
    if set(best.alphabets) <= _LATIN_ALPHABETS and best.language not in _CENTRAL_EUROPEAN:
        try:
            sample.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            pass
    return enc


_FEW_NON_ASCII = 200


def _reads_as_western(sample: bytes) -> bool:
    """Whether the bytes, read as Windows-1252, look like Western European text: its non-ASCII letters
    sit inside words of ASCII letters ("café", "it’s"), not in runs of their own (Cyrillic or Greek
    read as Windows-1252 gives words made only of accented letters)."""
    try:
        text = sample.decode("cp1252")
    except UnicodeDecodeError:
        return False
    marks = [i for i, c in enumerate(text) if ord(c) > 127]
    if not marks:
        return True

    def ascii_letter(j: int) -> bool:
        return 0 <= j < len(text) and text[j].isascii() and text[j].isalpha()

    inside = sum(1 for i in marks if ascii_letter(i - 1) or ascii_letter(i + 1))
    return inside >= 0.5 * len(marks)


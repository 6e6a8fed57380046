"""Reading training data: CSV/TSV, JSON, JSONL, Parquet and plain text, into normalised records.

What is accepted, and how:

- **JSONL** (``.jsonl``, ``.ndjson``): one JSON object per line, read as a stream (a file of any size
  up to the cap needs memory for the normalised records, not for the file). Blank lines are skipped.
- **JSON** (``.json``): a list of records, records under one key (``{"data": [...]}``), or columns
  (``{"text": [...], "label": [...]}``). A ``.json`` file that is really JSONL is read as JSONL.
- **CSV/TSV** (``.csv``, ``.tsv``): the delimiter (comma, semicolon, tab or bar) is sniffed; a header
  row is recognised by known column names or by how it differs from the rows below it. Without a
  header the columns are named ``1``, ``2``, ... (use those names in ``columns=``). Quoted values may
  span lines. Extra empty fields at the end of a row are ignored.
- **Parquet** (``.parquet``, ``.pq``): read in batches.
- **Text** (``.txt``): when the file has blank lines, each blank-line-separated paragraph is one
  example; otherwise each line is one example.

Text is UTF-8 (with or without a byte-order mark) or, when it is not, a legacy encoding found by
charset-normalizer (Western European text is read as Windows-1252). A UTF-8 file with some lines in a
legacy encoding (exports joined together) is read line by line, each line in its own encoding, and
those lines are named in ``Dataset.legacy_lines``. Text full of control characters is refused as
binary, like a file with zero bytes. Records that cannot be used
(bad JSON on a line, fields of the wrong type, a row with the wrong number of fields) are left out
and named in ``Dataset.malformed`` with their line; files that cannot be used at all raise
``StudioError`` with one line that says what, where and what to do.

``load_dataset`` returns all the records; ``open_records`` reads them as they are iterated (for a
health report on a big file without holding it in memory).
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from studio.data.formats import FORMATS, RowError, detect, normaliser
from studio.errors import StudioError

EXTENSIONS = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "csv",
    ".txt": "text", ".text": "text", ".parquet": "parquet", ".pq": "parquet",
}
_LINE_BASED = (".jsonl", ".ndjson", ".csv", ".tsv", ".txt", ".text")
DEFAULT_MAX_BYTES = 2 * 1024**3
SAMPLE_ROWS = 200  # rows read before the format is decided
SAMPLE_BYTES = 1 << 20  # bytes looked at to find the encoding
BINARY_SHARE = 0.05  # control characters in decoded text beyond this share: a binary file
# Legacy encodings with several bytes per character: a file in one of them is decoded as a whole.
_MULTIBYTE = ("cp932", "shift_jis", "euc_jp", "euc_jis", "iso2022", "gb2312", "gbk", "gb18030", "hz", "big5", "cp950",
              "euc_kr", "cp949", "johab", "utf_16", "utf_32", "utf_7")

# Legacy encodings of languages whose text cp1252 would garble; other Latin text is read as cp1252.
_CENTRAL_EUROPEAN = {"Polish", "Czech", "Slovak", "Hungarian", "Croatian", "Slovene", "Romanian", "Serbian"}
_LATIN_ALPHABETS = {"Basic Latin", "Control character", "General Punctuation", "Latin-1 Supplement",
                    "Latin Extended-A", "Latin Extended-B", "Currency Symbols", "Letterlike Symbols"}


@dataclass
class Dataset:
    """Normalised records and where each came from."""

    format: str
    records: list[dict]
    lines: list[int]  # per record: its line in the file (JSONL, CSV, text) or its 1-based record number
    malformed: list[tuple[int, str]]  # (line or record number, reason) for rows left out
    columns: dict[str, str]  # field -> column in the file, as used
    source: str
    encoding: str = "utf-8"
    legacy_lines: list[int] = field(default_factory=list)  # lines that were not UTF-8 in a UTF-8 file
    fallback_encoding: str = ""  # how those lines were read

    def __len__(self) -> int:
        return len(self.records)

    @property
    def line_based(self) -> bool:
        """True when ``lines`` are lines in the file, False when they are record numbers (JSON, Parquet)."""
        return Path(self.source).suffix.lower() in _LINE_BASED


def load_records(path, **kw) -> list[dict]:
    """Just the normalised records of a file (see ``load_dataset``)."""
    return load_dataset(path, **kw).records


def load_dataset(path, format: str = "auto", columns: dict | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> Dataset:  # noqa: A002
    """Read a data file into normalised records.

    ``format`` is ``auto`` or one of FORMATS; ``columns`` maps fields to column names, e.g.
    ``{"text": "review", "label": "sentiment"}``, and overrides what is detected.
    """
    stream = open_records(path, format=format, columns=columns, max_bytes=max_bytes)
    records: list[dict] = []
    lines: list[int] = []
    for n, rec in stream:
        records.append(rec)
        lines.append(n)
    return stream.dataset(records, lines)


def open_records(path, format: str = "auto", columns: dict | None = None,  # noqa: A002
                 max_bytes: int = DEFAULT_MAX_BYTES) -> RecordStream:
    """Like ``load_dataset``, but the records are read as they are iterated, one at a time.

    The file is checked and its format decided (from the first records) before this returns; iterating
    gives ``(line, record)`` pairs and fills ``malformed`` as it goes. Memory does not grow with the
    file (except for JSON, which is parsed whole), so a health check of a file of any size can stream.
    """
    p = Path(path).expanduser()
    name = str(path)
    if format not in ("auto", *FORMATS):
        raise StudioError(f"unknown format '{format}'; use auto or one of: {', '.join(FORMATS)}")
    if not p.exists():
        raise StudioError(f"file not found: {name}; check the path and the file name")
    if p.is_dir():
        raise StudioError(f"{name} is a folder; give a data file (CSV, JSON, JSONL, Parquet or text)")
    kind = EXTENSIONS.get(p.suffix.lower())
    if kind is None:
        hint = " (save spreadsheets as CSV)" if p.suffix.lower() in (".xlsx", ".xls", ".ods", ".numbers") else ""
        raise StudioError(f"{name}: unknown file type '{p.suffix or 'no extension'}'{hint}; "
                          "use .csv, .tsv, .json, .jsonl, .parquet or .txt")
    size = p.stat().st_size
    if size > max_bytes:
        raise StudioError(f"{name} is {_size(size)}, over the {_size(max_bytes)} limit; split it into smaller files, "
                          "or raise the limit (--max-mb for `studio check`, max_bytes in Python)")
    if size == 0:
        raise StudioError(f"{name} is empty; it needs at least one record")
    reader = _Reader(p, name)
    reader.kind = kind
    reader.names = {str(c).strip().lower() for c in (columns or {}).values() if c}
    if kind == "parquet":
        rows = reader.parquet()
    else:
        reader.sniff_text()
        rows = {"jsonl": reader.jsonl, "json": reader.json, "csv": reader.csv, "text": reader.text}[kind]()
    return RecordStream(rows, format, columns, name, reader)


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


Row = tuple[int, "dict | None", "str | None"]  # (line, raw row, reason it is unusable)


class RecordStream:
    """The normalised records of one file, read as they are iterated (see ``open_records``).

    Has the attributes of a ``Dataset`` except ``records`` and ``lines``; ``malformed`` and
    ``legacy_lines`` are complete once the iteration has ended.
    """

    def __init__(self, rows: Iterator[Row], fmt: str, columns: dict | None, name: str, reader: _Reader):
        self.source, self._reader = name, reader
        self.malformed: list[tuple[int, str]] = []
        self._used = False
        it = iter(rows)
        sample: list[Row] = []
        for item in it:
            sample.append(item)
            if sum(1 for _, r, _e in sample if r is not None) >= SAMPLE_ROWS:
                break
        usable = [r for _, r, _e in sample if r is not None]
        self._unit = "record" if reader.kind in ("json", "parquet") else "line"
        if not usable:
            if sample:
                first = next((f"{self._unit} {n}: {e}" for n, r, e in sample if e), "")
                raise StudioError(f"{name}: no usable records{'; first problem at ' + first if first else ''}; "
                                  "fix the file, or check that it holds data records")
            raise StudioError(f"{name} has no records; it needs at least one")
        self.format, self.columns = detect(usable, fmt, columns, f"{name}: ")
        self._norm = normaliser(self.format, self.columns)
        self._sample, self._rest = sample, it

    @property
    def encoding(self) -> str:
        return self._reader.encoding

    @property
    def legacy_lines(self) -> list[int]:
        return self._reader.legacy_lines

    @property
    def fallback_encoding(self) -> str:
        return self._reader.fallback

    @property
    def line_based(self) -> bool:
        return Path(self.source).suffix.lower() in _LINE_BASED

    def __iter__(self) -> Iterator[tuple[int, dict]]:
        if self._used:
            raise RuntimeError("a RecordStream can be read only once")
        self._used = True
        norm, malformed = self._norm, self.malformed
        count = 0
        for part in (self._sample, self._rest):
            for n, row, err in part:
                if row is None:
                    malformed.append((n, err or "unreadable"))
                    continue
                try:
                    rec = norm(row)
                except RowError as e:
                    malformed.append((n, str(e)))
                    continue
                count += 1
                yield n, rec
        self._sample = []
        if not count:
            first = f"; first problem at {self._unit} {malformed[0][0]}: {malformed[0][1]}" if malformed else ""
            raise StudioError(f"{self.source}: no usable records in format '{self.format}'{first}; "
                              "choose the format and columns that match the file")

    def dataset(self, records: list[dict], lines: list[int]) -> Dataset:
        """The Dataset of records read from this stream."""
        return Dataset(format=self.format, records=records, lines=lines, malformed=self.malformed,
                       columns=self.columns, source=self.source, encoding=self._reader.encoding,
                       legacy_lines=self.legacy_lines, fallback_encoding=self.fallback_encoding)


class _Reader:
    """Turns one file into raw rows ``(line, dict | None, reason)``."""

    def __init__(self, path: Path, name: str):
        self.path, self.name = path, name
        self.encoding = "utf-8"
        self.bom = b""
        self.whole = False  # True for UTF-16/32: decoded as a whole, not line by line
        self.kind = ""
        self.names: set[str] = set()  # column names the caller gave: a first CSV row with one of them is the header
        self.fallback = "cp1252"  # for lines of a UTF-8 file that are not UTF-8
        self.legacy_lines: list[int] = []  # those lines

    # --------------------------------------------------------------- encoding

    def sniff_text(self) -> None:
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

    def _decode_line(self, raw: bytes, n: int) -> str:
        """One line of a UTF-8 file; lines that are not UTF-8 are read in the fallback encoding."""
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.legacy_lines.append(n)
            return raw.decode(self.fallback, errors="replace")

    def _raw_lines(self) -> Iterator[bytes]:
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

    def _text_lines(self, track: bool = False) -> Iterator[str]:
        """The file's lines as text; with ``track``, lines read in the fallback encoding are noted."""
        if self.encoding != "utf-8" and not self.whole:
            enc = self.encoding
            for raw in self._raw_lines():
                yield raw.decode(enc, errors="replace")
            return
        for n, raw in enumerate(self._raw_lines(), 1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                if track:
                    self.legacy_lines.append(n)
                yield raw.decode(self.fallback, errors="replace")

    # --------------------------------------------------------------- JSONL / JSON

    def jsonl(self) -> Iterator[Row]:
        loads = json.loads
        utf8 = self.encoding == "utf-8" or self.whole
        for n, raw in enumerate(self._raw_lines(), 1):
            if not raw.strip():
                continue
            try:
                obj = loads(raw) if utf8 else loads(raw.decode(self.encoding, errors="replace"))
            except UnicodeDecodeError:
                try:
                    obj = loads(self._decode_line(raw, n))
                except ValueError as e:
                    yield n, None, f"invalid JSON ({_json_reason(e)})"
                    continue
            except ValueError:
                try:
                    loads(raw.strip())
                    reason = "unreadable"
                except (ValueError, UnicodeDecodeError) as e:
                    reason = _json_reason(e)
                yield n, None, f"invalid JSON ({reason})"
                continue
            if isinstance(obj, dict):
                yield n, obj, None
            else:
                yield n, None, f"a JSON {_json_kind(obj)}, expected an object {{...}}"

    def json(self) -> Iterator[Row]:
        data = self.path.read_bytes()[len(self.bom):]
        try:
            text = data.decode(self.encoding, errors="strict" if self.encoding == "utf-8" else "replace")
        except UnicodeDecodeError:  # UTF-8 with some lines in a legacy encoding
            del data
            text = "".join(self._text_lines(track=True))
        try:
            obj = json.loads(text)
        except ValueError as e:
            if getattr(e, "msg", "") == "Extra data" and text.lstrip().startswith("{"):
                del text
                self.legacy_lines.clear()
                yield from self.jsonl()  # JSON Lines saved as .json
                return
            where = f" at line {e.lineno}, column {e.colno}" if hasattr(e, "lineno") else ""
            raise StudioError(f"{self.name}: not valid JSON{where} ({_json_reason(e)}); fix it, or save the records "
                              "as JSONL (one per line) so that bad lines can be skipped") from None
        items = _records_in(obj, self.name)
        for n, item in enumerate(items, 1):
            if isinstance(item, dict):
                yield n, item, None
            else:
                yield n, None, f"record {n} is a JSON {_json_kind(item)}, expected an object {{...}}"

    # --------------------------------------------------------------- CSV

    def csv(self) -> Iterator[Row]:
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        sample = []
        size = 0
        for text in self._text_lines():
            sample.append(text)
            size += len(text)
            if size > 65536 or len(sample) >= 200:
                break
        if not any(s.strip() for s in sample):
            raise StudioError(f"{self.name} has no rows; it needs at least one record")
        delimiter = "\t" if self.path.suffix.lower() == ".tsv" else _sniff_delimiter(sample)
        sample_rows = [r for r in _parse_sample(sample, delimiter) if any(c.strip() for c in r)]
        header = _has_header(sample_rows, "".join(sample), delimiter, self.names)
        self.delimiter = delimiter

        reader = csv.reader(self._text_lines(track=True), delimiter=delimiter)
        names: list[str] | None = None
        last = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                yield reader.line_num, None, f"unreadable CSV row ({e})"
                last = reader.line_num
                continue
            start, last = last + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if names is None:
                if header:
                    names = _header_names(cells)
                    continue
                names = [str(i) for i in range(1, len(cells) + 1)]
            if len(cells) > len(names) and not any(c.strip() for c in cells[len(names):]):
                cells = cells[: len(names)]
            if len(cells) != len(names):
                delim = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "bar"}[delimiter]
                yield start, None, (f"row has {len(cells)} field{'s' if len(cells) != 1 else ''}, expected {len(names)} "
                                    f"(a {delim} inside an unquoted value, or a missing value?)")
                continue
            yield start, dict(zip(names, cells)), None

    # --------------------------------------------------------------- text, Parquet

    def text(self) -> Iterator[Row]:
        head = []
        size = 0
        for text in self._text_lines():
            head.append(text)
            size += len(text)
            if size > SAMPLE_BYTES:
                break
        filled = [i for i, t in enumerate(head) if t.strip()]
        paragraphs = bool(filled) and any(not t.strip() for t in head[filled[0]:filled[-1]])
        if not paragraphs:
            for n, text in enumerate(self._text_lines(track=True), 1):
                line = text.rstrip("\r\n")
                if line.strip():
                    yield n, {"text": line.strip()}, None
            return
        buf: list[str] = []
        start = 0
        for n, text in enumerate(self._text_lines(track=True), 1):
            line = text.rstrip("\r\n").rstrip()
            if line.strip():
                if not buf:
                    start = n
                buf.append(line)
            elif buf:
                yield start, {"text": "\n".join(buf)}, None
                buf = []
        if buf:
            yield start, {"text": "\n".join(buf)}, None

    def parquet(self) -> Iterator[Row]:
        with open(self.path, "rb") as fh:
            magic = fh.read(4)
        if magic != b"PAR1":
            raise StudioError(f"{self.name} is not a Parquet file (it does not start with PAR1); check the file type")
        try:
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(self.path)
        except Exception as e:  # noqa: BLE001 - any reader failure means the file is unusable
            raise StudioError(f"{self.name}: cannot read the Parquet file ({str(e).splitlines()[0]}); save it again, "
                              "or export the data as CSV or JSONL") from None
        n = 0
        for batch in pf.iter_batches(batch_size=8192):
            for row in batch.to_pylist():
                n += 1
                yield n, row, None


# ----------------------------------------------------------------------------- helpers

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


def _json_reason(e: Exception) -> str:
    msg = getattr(e, "msg", None) or str(e).splitlines()[0]
    col = getattr(e, "colno", None)
    return f"{msg} at column {col}" if col else msg


def _json_kind(obj) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "true/false", type(None): "null"}.get(type(obj), "value")


_RECORD_KEYS = {"messages", "conversations", "instruction", "prompt", "text", "chosen"}
_CONTAINER_KEYS = ("data", "train", "records", "rows", "examples", "items", "instances", "samples")


def _records_in(obj, name: str) -> list:
    """The list of records in a parsed JSON document."""
    if isinstance(obj, list):
        if not obj:
            raise StudioError(f"{name} holds an empty list; it needs at least one record")
        if not any(isinstance(item, dict) for item in obj):
            plural = {"list": "lists", "string": "strings", "number": "numbers", "null": "nulls"}
            kinds = sorted({plural.get(_json_kind(item), "values") for item in obj})
            raise StudioError(f"{name} holds a list of {' and '.join(kinds)}, not records; expected a list "
                              'of objects such as [{"text": ...}, ...] (a list of strings can be saved as .txt, one per line)')
        return obj
    if not isinstance(obj, dict):
        raise StudioError(f"{name} holds a JSON {_json_kind(obj)}, not records; expected [{{...}}, ...] or {{\"data\": [...]}}")
    values = list(obj.values())
    # columns: {"text": [...], "label": [...]}
    if values and all(isinstance(v, list) and v and not isinstance(v[0], dict) for v in values) \
            and len({len(v) for v in values}) == 1 and len(values[0]) > 1:
        keys = list(obj)
        return [dict(zip(keys, vals)) for vals in zip(*values)]
    # pandas' default: {"text": {"0": ..., "1": ...}, "label": {"0": ..., "1": ...}}
    if values and all(isinstance(v, dict) and v for v in values):
        index = list(values[0])
        if all(str(i).isdigit() for i in index) and all(list(v) == index for v in values):
            return [{k: obj[k][i] for k in obj} for i in index]
    if {str(k).lower() for k in obj} & _RECORD_KEYS:
        return [obj]  # a single record
    lists = {k: v for k, v in obj.items() if isinstance(v, list) and v}
    of_dicts = {k: v for k, v in lists.items() if isinstance(v[0], dict)}
    if len(of_dicts) == 1:
        return next(iter(of_dicts.values()))
    for key in _CONTAINER_KEYS:
        if key in of_dicts:
            return of_dicts[key]
    if of_dicts:
        raise StudioError(f"{name} has several lists of records ({', '.join(of_dicts)}); keep one per file")
    raise StudioError(f"{name} is a JSON object without a list of records; expected [{{...}}, ...] or {{\"data\": [...]}}")


def _parse_sample(lines: list[str], delimiter: str) -> list[list[str]]:
    text = "".join(lines)
    if len(lines) > 1 and not lines[-1].endswith("\n"):
        text = "".join(lines[:-1])  # the last sample line may be cut
    try:
        return list(csv.reader(text.splitlines(keepends=True), delimiter=delimiter))
    except csv.Error:
        return [ln.rstrip("\r\n").split(delimiter) for ln in lines]


def _sniff_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the sample rows into the same number (> 1) of fields most consistently."""
    best, best_score = ",", 0.0
    for delim in (",", "\t", ";", "|"):
        rows = [r for r in _parse_sample(lines, delim) if any(c.strip() for c in r)]
        if not rows:
            continue
        counts: dict[int, int] = {}
        for r in rows:
            counts[len(r)] = counts.get(len(r), 0) + 1
        width, freq = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        if width < 2:
            continue
        score = freq / len(rows) + 0.01 * min(width, 10)
        if score > best_score + 0.05:
            best, best_score = delim, score
    return best


_IDENT = re.compile(r"^[^\W\d][\w .()/-]{0,39}$")  # a name: starts with a letter (any alphabet) or _


def _has_header(rows: list[list[str]], text: str, delimiter: str, given: set[str] = frozenset()) -> bool:
    """Whether the first row names the columns (``given``: column names the caller asked for)."""
    from studio.data.formats import ALIASES

    if not rows:
        return False
    first = [c.strip().strip("\ufeff").lower() for c in rows[0]]
    known = {a for names in ALIASES.values() for a in names} | set(given)
    if any(c in known for c in first):
        return True
    body = rows[1:]
    if not body:
        return False
    if not all(_IDENT.match(c.strip()) for c in rows[0]) or len(set(first)) != len(first):
        return False
    for i, cell in enumerate(rows[0]):
        col = [r[i] for r in body if len(r) > i]
        if not col:
            continue
        if all(_is_number(v) for v in col) and not _is_number(cell):
            return True
        distinct = set(col)
        if len(distinct) <= max(2, len(col) // 2) and cell not in distinct and len(col) >= 4:
            return True
        avg = sum(len(v) for v in col) / len(col)
        if avg > 40 and len(cell) * 3 < avg:
            return True
    try:
        return csv.Sniffer().has_header(text[:65536])
    except csv.Error:
        return False


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _header_names(cells: list[str]) -> list[str]:
    names, seen = [], set()
    for i, c in enumerate(cells, 1):
        name = c.strip().lstrip("\ufeff").strip() or str(i)
        base, k = name, 2
        while name in seen:
            name, k = f"{base}_{k}", k + 1
        seen.add(name)
        names.append(name)
    return names


def file_info(path) -> dict:
    """Size and type of a data file, for display before loading it."""
    p = Path(path)
    return {"name": p.name, "bytes": os.path.getsize(p), "type": EXTENSIONS.get(p.suffix.lower())}

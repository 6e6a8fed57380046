"""CSV and TSV: the delimiter is sniffed, a header row recognised, quoted values may span lines."""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterator

from studio.data.formats import column_vocabulary
from studio.data.intake.decoding import FileReader, Row
from studio.core.errors import StudioError


def csv_rows(reader: FileReader) -> Iterator[Row]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    sample = []
    size = 0
    for text in reader.text_lines():
        sample.append(text)
        size += len(text)
        if size > 65536 or len(sample) >= 200:
            break
    if not any(s.strip() for s in sample):
        raise StudioError(f"{reader.name} has no rows; it needs at least one record")
    delimiter = "\t" if reader.path.suffix.lower() == ".tsv" else _sniff_delimiter(sample)
    sample_rows = [r for r in _parse_sample(sample, delimiter) if any(c.strip() for c in r)]
    header = _has_header(sample_rows, "".join(sample), delimiter, reader.names)
    reader.delimiter = delimiter

    parsed = csv.reader(reader.text_lines(track=True), delimiter=delimiter)
    names: list[str] | None = None
    last = 0
    while True:
        try:
            cells = next(parsed)
        except StopIteration:
            break
        except csv.Error as e:
            yield parsed.line_num, None, f"unreadable CSV row ({e})"
            last = parsed.line_num
            continue
        start, last = last + 1, parsed.line_num
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
    if not rows:
        return False
    first = [c.strip().strip("\ufeff").lower() for c in rows[0]]
    known = column_vocabulary() | set(given)
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


"""Chunked passes over the records: a Dataset or a RecordStream in chunks, and patterns run over a whole chunk."""

from __future__ import annotations

import bisect
import re

from studio.data.health.keys import _texts
from studio.data.intake import Dataset

_CHUNK = 2000  # records scanned per regex pass


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


def _regex(pattern: re.Pattern, keep=None, needles: tuple[str, ...] = ()):
    """A finder: the matches of ``pattern`` that ``keep`` accepts; skipped when no needle is in the text."""
    def find(big: str):
        if needles and not any(n in big for n in needles):
            return
        for m in pattern.finditer(big):
            if keep is None or keep(m.group(0)):
                yield m.start(), m.group(0)
    return find


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

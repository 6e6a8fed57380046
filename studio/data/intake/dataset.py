"""What reading a file gives: a ``Dataset`` (all the records) or a ``RecordStream`` (records as they are read)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from studio.data.formats import RowError, detect, normaliser
from studio.data.intake.decoding import FileReader, Row
from studio.core.errors import StudioError

_LINE_BASED = (".jsonl", ".ndjson", ".csv", ".tsv", ".txt", ".text")
SAMPLE_ROWS = 200  # rows read before the format is decided


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


class RecordStream:
    """The normalised records of one file, read as they are iterated (see ``open_records``).

    Has the attributes of a ``Dataset`` except ``records`` and ``lines``; ``malformed`` and
    ``legacy_lines`` are complete once the iteration has ended.
    """

    def __init__(self, rows: Iterator[Row], fmt: str, columns: dict | None, name: str, reader: FileReader):
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

    def keep_columns(self) -> "RecordStream":
        """Each record also carries its row's plain values as text, by column name (``record["columns"]``), for a use
        that compares against a column of the file (a reward's reference answer). Call before iterating."""
        norm = self._norm

        def with_columns(row):
            rec = norm(row)
            rec["columns"] = {str(k): str(v) for k, v in row.items()
                              if v is not None and not isinstance(v, (list, dict, bytes))}
            return rec

        self._norm = with_columns
        return self

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

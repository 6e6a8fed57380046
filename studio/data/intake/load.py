"""Opening a data file: checks on the file, then the reader for its type; ``load_dataset`` and ``open_records``."""

from __future__ import annotations

import os
from pathlib import Path

from studio.data.formats import FORMATS, names
from studio.data.intake.csv_rows import csv_rows
from studio.data.intake.dataset import Dataset, RecordStream
from studio.data.intake.decoding import FileReader
from studio.data.intake.json_rows import json_rows, jsonl_rows
from studio.data.intake.parquet_rows import parquet_rows
from studio.data.intake.text_rows import text_rows
from studio.core.errors import StudioError

EXTENSIONS = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "csv",
    ".txt": "text", ".text": "text", ".parquet": "parquet", ".pq": "parquet",
}
DEFAULT_MAX_BYTES = 2 * 1024**3


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
    if format != "auto" and format not in FORMATS:
        raise StudioError(f"unknown format '{format}'; use auto or one of: {', '.join(names())}")
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
    reader = FileReader(p, name)
    reader.kind = kind
    reader.names = {str(c).strip().lower() for c in (columns or {}).values() if c}
    if kind == "parquet":
        rows = parquet_rows(reader)
    else:
        reader.sniff_text()
        rows = {"jsonl": jsonl_rows, "json": json_rows, "csv": csv_rows, "text": text_rows}[kind](reader)
    return RecordStream(rows, format, columns, name, reader)


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def file_info(path) -> dict:
    """Size and type of a data file, for display before loading it."""
    p = Path(path)
    return {"name": p.name, "bytes": os.path.getsize(p), "type": EXTENSIONS.get(p.suffix.lower())}

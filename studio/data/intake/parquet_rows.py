"""Parquet: the rows of a Parquet file, read in batches."""

from __future__ import annotations

from collections.abc import Iterator

from studio.data.intake.decoding import FileReader, Row
from studio.core.errors import StudioError


def parquet_rows(reader: FileReader) -> Iterator[Row]:
    with open(reader.path, "rb") as fh:
        magic = fh.read(4)
    if magic != b"PAR1":
        raise StudioError(f"{reader.name} is not a Parquet file (it does not start with PAR1); check the file type")
    try:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(reader.path)
    except Exception as e:  # noqa: BLE001 - any reader failure means the file is unusable
        raise StudioError(f"{reader.name}: cannot read the Parquet file ({str(e).splitlines()[0]}); save it again, "
                          "or export the data as CSV or JSONL") from None
    n = 0
    for batch in pf.iter_batches(batch_size=8192):
        for row in batch.to_pylist():
            n += 1
            yield n, row, None

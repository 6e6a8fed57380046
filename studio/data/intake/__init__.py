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

One module per reader: ``csv_rows``, ``json_rows`` (JSON and JSONL), ``parquet_rows`` and ``text_rows``;
``decoding`` finds the encoding and reads lines, ``dataset`` has the ``Dataset`` and ``RecordStream``
types, and ``load`` checks the file and picks the reader.
"""

from studio.data.intake.dataset import SAMPLE_ROWS, Dataset, RecordStream
from studio.data.intake.decoding import BINARY_SHARE, SAMPLE_BYTES, Row
from studio.data.intake.load import DEFAULT_MAX_BYTES, EXTENSIONS, file_info, load_dataset, load_records, open_records

__all__ = ["BINARY_SHARE", "DEFAULT_MAX_BYTES", "EXTENSIONS", "SAMPLE_BYTES", "SAMPLE_ROWS", "Dataset", "RecordStream", "Row",
           "file_info", "load_dataset", "load_records", "open_records"]

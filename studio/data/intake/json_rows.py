"""JSON Lines (one object per line, read as a stream) and JSON (a list of records, records under one key, or columns)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from studio.data.intake.decoding import FileReader, Row
from studio.core.errors import StudioError


def jsonl_rows(reader: FileReader) -> Iterator[Row]:
    loads = json.loads
    utf8 = reader.encoding == "utf-8" or reader.whole
    for n, raw in enumerate(reader.raw_lines(), 1):
        if not raw.strip():
            continue
        try:
            obj = loads(raw) if utf8 else loads(raw.decode(reader.encoding, errors="replace"))
        except UnicodeDecodeError:
            try:
                obj = loads(reader.decode_line(raw, n))
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


def json_rows(reader: FileReader) -> Iterator[Row]:
    data = reader.path.read_bytes()[len(reader.bom):]
    try:
        text = data.decode(reader.encoding, errors="strict" if reader.encoding == "utf-8" else "replace")
    except UnicodeDecodeError:  # UTF-8 with some lines in a legacy encoding
        del data
        text = "".join(reader.text_lines(track=True))
    try:
        obj = json.loads(text)
    except ValueError as e:
        if getattr(e, "msg", "") == "Extra data" and text.lstrip().startswith("{"):
            del text
            reader.legacy_lines.clear()
            yield from jsonl_rows(reader)  # JSON Lines saved as .json
            return
        where = f" at line {e.lineno}, column {e.colno}" if hasattr(e, "lineno") else ""
        raise StudioError(f"{reader.name}: not valid JSON{where} ({_json_reason(e)}); fix it, or save the records "
                          "as JSONL (one per line) so that bad lines can be skipped") from None
    items = _records_in(obj, reader.name)
    for n, item in enumerate(items, 1):
        if isinstance(item, dict):
            yield n, item, None
        else:
            yield n, None, f"record {n} is a JSON {_json_kind(item)}, expected an object {{...}}"


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
    from studio.data.formats import column_vocabulary

    if {str(k).lower() for k in obj} & column_vocabulary():  # a single record of any registered format's columns
        return [obj]
    raise StudioError(f"{name} is a JSON object without a list of records; expected [{{...}}, ...] or {{\"data\": [...]}}")


"""Reading conversations with images: the vision task's records, from JSONL, JSON, CSV, Parquet or a zip.

What a record may look like (any of these, mixed in one file is fine):

- OpenAI messages whose content has ``image_url`` parts (``{"type": "image_url", "image_url": {"url": ...}}``;
  also ``image`` / ``input_image`` parts); the url is a path, a ``file://`` URL or a ``data:`` URI;
- ShareGPT / LLaMA-Factory: ``conversations`` (``from``/``value``) or ``messages``, an ``images`` column (a list,
  or one ``image``), and ``<image>`` markers in the text where each image goes (none: the images lead the first
  user turn);
- a question and an answer (``prompt``/``completion``, ``question``/``answer``, ``instruction``/``output``) next to
  ``images`` / ``image``;
- Parquet from Hugging Face datasets: an image column of ``{"bytes": ..., "path": ...}``, and content parts
  ``{"type": "image"}`` with no value that place the column's images (as TRL's vision data has them).

A zip holds the data file and its images (paths relative to the data file); see ``studio.tasks.vision.archive``.
Every image is opened while reading: a record whose image is missing, unreadable, or whose markers and images do
not pair up is left out and named, with its line (JSONL, CSV) or record number (JSON, Parquet), in
``Dataset.malformed``. The records are ``{"messages": [{"role", "content": [{"type": "image"} | {"type": "text",
"text"}]}], "images": [reference, ...], "image_sizes": [[width, height], ...]}``, images in the order of their
parts (``studio.tasks.vision.images``).
"""

from __future__ import annotations

import re
from pathlib import Path

from studio.core.errors import StudioError
from studio.data.formats import ROLE_NAMES, RowError
from studio.data.intake import DEFAULT_MAX_BYTES, Dataset
from studio.tasks.vision.images import open_image, reference

FORMAT = "vision"
MARKER = re.compile(r"<image>")
IMAGE_PARTS = ("image", "image_url", "input_image")
TURN_KEYS = ("messages", "conversations", "conversation", "chat")
PROMPT_KEYS = ("prompt", "question", "query", "instruction", "input")
ANSWER_KEYS = ("completion", "answer", "response", "output", "chosen")
IMAGE_KEYS = ("images", "image", "image_path", "image_paths", "image_url")
READERS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet",
           ".pq": "parquet"}


def load(path, max_bytes: int = DEFAULT_MAX_BYTES, check_images: bool = True, confine: bool = False,
         max_unpacked: int | None = None) -> Dataset:
    """All the usable records of a data file (or zip) with images; the others in ``malformed``. ``confine``: image
    paths must stay inside the data file's folder (always so for a zip; a run someone started on a shared studio
    asks for it, so that nobody's data reaches files beside their own). ``max_unpacked``: the most bytes a zip may
    unpack to (default ``archive.MAX_UNPACKED_BYTES``; a shared studio ties it to its upload limit)."""
    from studio.tasks.vision.archive import unpack

    src = Path(path).expanduser()
    if not src.is_file():
        raise StudioError(f"file not found: {path}; check the path and the file name")
    zipped = src.suffix.lower() == ".zip"
    confine = confine or zipped
    data = (unpack(src, max_unpacked) if max_unpacked else unpack(src)) if zipped else src
    records, lines, malformed = [], [], []
    for n, row, err in _rows(data, str(path), max_bytes):
        if row is None:
            malformed.append((n, err or "unreadable"))
            continue
        try:
            rec = normalise(row, data.parent, confine)
            if check_images:
                rec["image_sizes"] = [list(_size(ref, k)) for k, ref in enumerate(rec["images"], 1)]
        except RowError as e:
            malformed.append((n, str(e)))
            continue
        records.append(rec)
        lines.append(n)
    if not records:
        first = f"; first problem at {_unit(data)} {malformed[0][0]}: {malformed[0][1]}" if malformed else ""
        raise StudioError(f"{path}: no usable conversations with images{first}")
    # a zip's records are named by their place in the data file inside it (lines of a JSONL or CSV file)
    return Dataset(format=FORMAT, records=records, lines=lines, malformed=malformed, columns={},
                   source=str(data) if zipped else str(path))


def _size(ref: dict, k: int) -> tuple[int, int]:
    try:
        return open_image(ref).size
    except RowError as e:
        raise RowError(f"image {k}: {e}") from None


def _unit(path: Path) -> str:
    return "record" if READERS.get(path.suffix.lower()) in ("json", "parquet") else "line"


def _rows(path: Path, name: str, max_bytes: int):
    from studio.data.intake.csv_rows import csv_rows
    from studio.data.intake.decoding import FileReader
    from studio.data.intake.json_rows import json_rows, jsonl_rows
    from studio.data.intake.parquet_rows import parquet_rows

    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise StudioError(f"{name}: unknown file type '{path.suffix or 'no extension'}'; conversations with images "
                          "come as .jsonl, .json, .csv, .parquet, or a .zip holding one of them and the images")
    if path.stat().st_size > max_bytes:
        raise StudioError(f"{name} is over the {max_bytes / 1024**2:.0f} MB limit; split it into smaller files")
    if path.stat().st_size == 0:
        raise StudioError(f"{name} is empty; it needs at least one record")
    reader = FileReader(path, name)
    reader.kind = kind
    if kind == "parquet":
        return parquet_rows(reader)
    reader.sniff_text()
    return {"jsonl": jsonl_rows, "json": json_rows, "csv": csv_rows}[kind](reader)


def normalise(row: dict, base: Path, confine: bool = False) -> dict:
    """One raw row as a vision record (see the module docstring); raises RowError."""
    row = {str(k).strip().lower(): v for k, v in row.items()}
    turns = next((row[k] for k in TURN_KEYS if row.get(k) is not None), None)
    if isinstance(turns, str) and turns.lstrip().startswith("["):  # a conversation stored as JSON text (CSV)
        import json

        try:
            turns = json.loads(turns)
        except ValueError:
            raise RowError("the conversation holds text that is not a valid JSON list") from None
    if turns is None:
        prompt = next((row[k] for k in PROMPT_KEYS if row.get(k) is not None), None)
        answer = next((row[k] for k in ANSWER_KEYS if row.get(k) is not None), None)
        if prompt is None or answer is None:
            raise RowError("no conversation: give 'messages' (or 'conversations'), or a prompt and an answer")
        turns = [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    if hasattr(turns, "tolist"):
        turns = turns.tolist()
    if not isinstance(turns, list) or not turns:
        raise RowError("the conversation is not a list of messages")
    column = _column_images(row, base, confine)
    messages, inline, markers = [], [], 0
    for i, m in enumerate(turns, 1):
        if not isinstance(m, dict):
            raise RowError(f"message {i} is not an object")
        role = ROLE_NAMES.get(str(m.get("role") or m.get("from") or "").strip().lower())
        if role not in ("system", "user", "assistant"):
            raise RowError(f"message {i} has role '{m.get('role') or m.get('from')}'; use system, user or assistant")
        parts, found = _parts(m.get("content", m.get("value")), i, base, confine, inline)
        markers += found
        messages.append({"role": role, "content": parts})
    if not any(m["role"] == "assistant" and _text(m) for m in messages):
        raise RowError("the conversation has no assistant answer to learn from")
    if markers and len(column) != markers:
        raise RowError(f"the text has {markers} <image> marker{'s' * (markers != 1)} but the record has "
                       f"{len(column)} image{'s' * (len(column) != 1)}; give one image per marker")
    if column and not markers:  # no markers: the images lead the first user turn
        first = next((m for m in messages if m["role"] == "user"), None)
        if first is None:
            raise RowError("the record has images but no user turn to put them in")
        first["content"] = [{"type": "image", "ref": "column"} for _ in column] + first["content"]
    images, col = [], iter(column)
    for m in messages:
        for part in m["content"]:
            if part["type"] == "image":
                ref = part.pop("ref")
                images.append(next(col) if ref == "column" else inline[ref])
    if not images:
        raise RowError("the record has no image; text-only conversations train with the chat task")
    return {"messages": messages, "images": images}


def _column_images(row: dict, base: Path, confine: bool) -> list[dict]:
    value = next((row[k] for k in IMAGE_KEYS if row.get(k) is not None), None)
    if value is None:
        return []
    if hasattr(value, "tolist") and not isinstance(value, (bytes, dict)):
        value = value.tolist()
    if isinstance(value, str) and value.lstrip().startswith("["):
        import json

        try:
            value = json.loads(value)
        except ValueError:
            raise RowError("the images column holds text that is not a valid JSON list") from None
    values = value if isinstance(value, list) else [value]
    out = []
    for k, v in enumerate(values, 1):
        try:
            out.append(reference(v, base, confine))
        except RowError as e:
            raise RowError(f"image {k}: {e}") from None
    return out


def _parts(content, i: int, base: Path, confine: bool, inline: list) -> tuple[list[dict], int]:
    """A message's content as parts; image parts of the content are referenced in ``inline`` by index, ``<image>``
    markers in text become parts waiting for a column image. Returns (parts, markers found)."""
    if content is None:
        content = ""
    if isinstance(content, (str, int, float)) and not isinstance(content, bool):
        content = [{"type": "text", "text": str(content)}]
    if isinstance(content, dict):
        content = [content]
    if hasattr(content, "tolist"):
        content = content.tolist()
    if not isinstance(content, list):
        raise RowError(f"message {i} has content of type {type(content).__name__}, expected text or parts")
    parts, markers = [], 0
    for part in content:
        if isinstance(part, str):
            part = {"type": "text", "text": part}
        if not isinstance(part, dict):
            raise RowError(f"message {i} has a content part that is not an object")
        kind = str(part.get("type") or "text").strip().lower()
        if kind in IMAGE_PARTS:
            value = part.get(kind) if part.get(kind) is not None else part.get("url") or part.get("path") or part.get("image")
            if value is None:  # a part that only places an image of the images column (TRL / HF datasets style)
                parts.append({"type": "image", "ref": "column"})
                markers += 1
                continue
            try:
                inline.append(reference(value, base, confine))
            except RowError as e:
                raise RowError(f"message {i}: {e}") from None
            parts.append({"type": "image", "ref": len(inline) - 1})
        elif kind == "text":
            text = next((part[k] for k in ("text", "value", "content") if isinstance(part.get(k), str)), "")
            pieces = MARKER.split(text)
            for j, piece in enumerate(pieces):
                if j:
                    parts.append({"type": "image", "ref": "column"})
                    markers += 1
                if piece.strip():
                    parts.append({"type": "text", "text": piece.strip() if j or len(pieces) > 1 else piece})
        else:
            raise RowError(f"message {i} has a '{kind}' part; conversations with images take text and image parts")
    return parts, markers


def _text(message: dict) -> str:
    return "".join(p.get("text", "") for p in message["content"] if p["type"] == "text")


def prompt_text(messages: list[dict]) -> str:
    """A conversation as plain text (images as ``<image>``), for previews and duplicate checks."""
    return "\n".join(f"{m['role']}: " + " ".join("<image>" if p["type"] == "image" else p["text"] for p in m["content"])
                     for m in messages)

"""Plain text: one example per blank-line-separated paragraph when the file has blank lines, else per line."""

from __future__ import annotations

from collections.abc import Iterator

from studio.data.intake.decoding import SAMPLE_BYTES, FileReader, Row


def text_rows(reader: FileReader) -> Iterator[Row]:
    head = []
    size = 0
    for text in reader.text_lines():
        head.append(text)
        size += len(text)
        if size > SAMPLE_BYTES:
            break
    filled = [i for i, t in enumerate(head) if t.strip()]
    paragraphs = bool(filled) and any(not t.strip() for t in head[filled[0]:filled[-1]])
    if not paragraphs:
        for n, text in enumerate(reader.text_lines(track=True), 1):
            line = text.rstrip("\r\n")
            if line.strip():
                yield n, {"text": line.strip()}, None
        return
    buf: list[str] = []
    start = 0
    for n, text in enumerate(reader.text_lines(track=True), 1):
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

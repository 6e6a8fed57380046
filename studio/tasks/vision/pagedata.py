"""How the page's Data tab reads, checks and previews conversations with images (``Task.data_reader``).

The tab hands the file to ``ImageData`` instead of the studio's text intake: ``read`` unpacks a zip and opens
every image (``intake``), ``check`` runs the image health checks (``health``; image tokens too when the chosen
model is a vision model), ``text`` and ``pieces`` show a conversation (what is learned from marked), and
``thumbnails`` gives small downscaled copies of a record's images as ``data:`` URIs, so that the page shows them
without serving any file from the server.
"""

from __future__ import annotations

import base64
import functools
import io

from studio.core.errors import StudioError
from studio.data.formats import RowError
from studio.tasks.vision.images import open_image

THUMB_PX = 96


@functools.lru_cache(maxsize=4)
def _processor(source: str):
    from studio.tasks.vision.model import check_model, load_processor

    check_model(source)
    return load_processor(source)


def processor_for(source: str):
    """The processor of a vision model, None for a text model (or one that cannot be read)."""
    try:
        return _processor((source or "").strip())
    except (StudioError, OSError, ValueError):
        return None


class ImageData:
    images = True  # the tab shows thumbnails

    def __init__(self, task):
        self.task = task

    def read(self, path: str, confine: bool = False, max_unpacked_bytes: int | None = None):
        from studio.tasks.vision.intake import load

        return load(path, confine=confine, max_unpacked=max_unpacked_bytes)

    def check(self, ds, model_source: str, max_length: int):
        """The image health report (a ``studio.data.health`` Report; its ``lengths`` with a vision model)."""
        from studio.tasks.vision.health import check_images

        return check_images(ds, processor_for(model_source), int(max_length or 0) or None)

    def describe(self, ds) -> str:
        n = sum(len(r["images"]) for r in ds.records)
        return f"conversations with {n} image{'s' * (n != 1)}"

    def text(self, record: dict) -> str:
        from studio.tasks.vision.intake import prompt_text

        return prompt_text(record["messages"])

    def thumbnails(self, record: dict, size: int = THUMB_PX) -> list[str]:
        """The record's images, each shrunk to fit ``size`` pixels, as PNG ``data:`` URIs (a broken one: skipped)."""
        out = []
        for ref in record.get("images") or []:
            try:
                picture = open_image(ref)
            except RowError:
                continue
            picture.thumbnail((size, size))
            buf = io.BytesIO()
            picture.save(buf, format="PNG", optimize=True)
            out.append("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"))
        return out

    def pieces(self, record: dict, model_source: str, max_length: int, train_on_prompt: bool = False):
        """The conversation as training encodes it for a vision model (its template, image tokens marked), or, for
        a text model, turn by turn: the assistant's answers are what is learned from."""
        processor = processor_for(model_source)
        if processor is not None:
            return self.task.trained_pieces(processor, record, int(max_length), train_on_prompt)
        out = []
        for m in record["messages"]:
            words = " ".join("<image>" if p["type"] == "image" else p["text"] for p in m["content"])
            out.append((f"{m['role']}: ", False))
            out.append((words + "\n", m["role"] == "assistant" or train_on_prompt))
        return out

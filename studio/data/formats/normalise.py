"""One raw row (a dict) to the studio's normalised record: the format's normaliser, and media left out counted."""

from __future__ import annotations

from collections.abc import Callable

from studio.data.formats import registry
from studio.data.formats.fields import MEDIA_COLUMNS


def normaliser(fmt: str, cols: dict[str, str]) -> Callable[[dict], dict]:
    """A function from one raw row (a dict) to its normalised record; raises RowError.

    Images, audio and video (content parts, or columns such as ``images``) are not trained on: a record
    that had some keeps their counts by kind in ``record["media"]`` so the health report can say so.
    """
    norm = registry.get(fmt).normaliser(cols)

    def with_media(row):
        skipped: dict = {}
        rec = norm(row, skipped)
        for col, kind in MEDIA_COLUMNS.items():
            value = row.get(col)
            if value is not None and not isinstance(value, (str, bytes, dict)) and hasattr(value, "__len__"):
                n = len(value)
            else:
                n = 1 if value not in (None, "", b"") else 0
            if n:
                skipped[kind] = skipped.get(kind, 0) + n
        if skipped:
            rec["media"] = skipped
        return rec

    return with_media

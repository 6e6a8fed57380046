"""The ``vision`` data format: conversations whose turns hold images.

The vision task reads these files with its own intake (``intake``: image parts, ``images`` columns with ``<image>``
markers, Parquet image bytes, zips), which decodes every image. In the studio's shared intake the format reads as
chat does (the images counted as media); it is never detected from column names, only named.
"""

from __future__ import annotations

from studio.data.formats.chat import ChatFormat


class VisionFormat(ChatFormat):
    name = "vision"
    claims = ()
    rank = 1000

    def matches(self, rows, names) -> bool:
        return False


FORMAT = VisionFormat()

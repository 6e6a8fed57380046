"""Image references in data records, and opening them.

A record's images are kept as references until training needs the pixels: ``{"path": "/abs/file.png"}`` or
``{"bytes": b"..."}`` (a ``data:`` URI, or an image column of a Parquet / Hugging Face dataset). ``reference``
turns what a data file holds into one; ``open_image`` gives an RGB ``PIL.Image``.
"""

from __future__ import annotations

import base64
import binascii
import io
from pathlib import Path
from urllib.parse import unquote, urlparse

from studio.data.formats import RowError


def reference(value, base: Path, confine: bool = False) -> dict:
    """An image reference from a data value: a path (relative to ``base``, the data file's folder), a
    ``file://`` URL, a ``data:`` URI, a dict with ``bytes`` or ``path`` (Hugging Face datasets), or raw bytes.
    ``confine``: paths must stay inside ``base`` (data unpacked from a zip). Raises RowError."""
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": bytes(value)}
    if isinstance(value, dict):
        if value.get("bytes"):
            return {"bytes": bytes(value["bytes"])}
        inner = value.get("url") or value.get("path") or value.get("image_url") or value.get("image")
        if inner is None:
            raise RowError("an image entry has neither bytes, a path nor a url")
        return reference(inner, base, confine)
    if not isinstance(value, str) or not value.strip():
        raise RowError(f"an image is {type(value).__name__}, expected a path, a data: URI or bytes")
    text = value.strip()
    if text.startswith("data:"):
        head, _, payload = text.partition(",")
        if ";base64" not in head:
            raise RowError("a data: URI image is not base64-encoded")
        try:
            return {"bytes": base64.b64decode(payload, validate=False)}
        except (binascii.Error, ValueError):
            raise RowError("a data: URI image holds invalid base64") from None
    scheme = urlparse(text).scheme.lower()
    if scheme == "file":
        text = unquote(urlparse(text).path)
    elif scheme in ("http", "https", "ftp", "s3", "gs"):
        raise RowError(f"image {_short(text)} is a web address; images are not downloaded: save them next to the "
                       "data file and give their paths (or put data and images in one zip)")
    path = Path(text).expanduser()
    path = (path if path.is_absolute() else base / path).resolve()
    if confine and not path.is_relative_to(base.resolve()):
        raise RowError(f"image {_short(text)} points outside the data's folder; give paths inside the zip")
    return {"path": str(path)}


def image_bytes(ref: dict) -> bytes:
    if "bytes" in ref:
        return ref["bytes"]
    try:
        return Path(ref["path"]).read_bytes()
    except FileNotFoundError:
        raise RowError(f"image file not found: {ref['path']}") from None
    except OSError as err:
        raise RowError(f"image file {ref['path']} cannot be read ({err.strerror or err})") from None


def open_image(ref: dict):
    """The image as an RGB PIL image (decoded in full, so that a truncated file fails here); raises RowError."""
    from PIL import Image, UnidentifiedImageError

    data = image_bytes(ref)
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
        where = ref.get("path") or "embedded image"
        raise RowError(f"{where} is not a readable image ({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None


def name_of(ref: dict) -> str:
    return Path(ref["path"]).name if "path" in ref else f"embedded image ({len(ref.get('bytes') or b'')} bytes)"


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

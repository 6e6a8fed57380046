"""A zip that holds a data file (JSON, JSONL, CSV or Parquet) and its images, unpacked safely.

Nothing is written outside the folder the zip unpacks into (absolute names, ``..`` and links are refused), and
the number of files, the unpacked size and the compression ratio are capped, so that an upload on a shared
server cannot fill its disk. The folder sits next to the zip (``data.zip`` -> ``data.zip.unpacked/``) and is
reused while the zip is unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from studio.core.errors import StudioError

MAX_FILES = 100_000
MAX_UNPACKED_BYTES = int(os.environ.get("STUDIO_MAX_UNZIP_MB", "4096")) * 1024**2
MAX_RATIO = 200  # unpacked / packed size of one member beyond this: a zip bomb
DATA_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet", ".pq")


def unpack(zip_path: str | Path, max_bytes: int = MAX_UNPACKED_BYTES) -> Path:
    """Unpack the zip next to itself and return the data file inside (the one JSON/JSONL/CSV/Parquet file, or
    the one named ``data.*``/``train.*``); raises StudioError with what is wrong."""
    src = Path(zip_path).expanduser()
    target = src.with_name(src.name + ".unpacked")
    stamp = {"size": src.stat().st_size, "mtime": src.stat().st_mtime_ns}
    marker = target / ".unpacked.json"
    if not (marker.exists() and json.loads(marker.read_text()) == stamp):
        _extract(src, target, max_bytes)
        marker.write_text(json.dumps(stamp))
    return _data_file(target, src.name)


def _extract(src: Path, target: Path, max_bytes: int) -> None:
    try:
        zf = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError) as err:
        raise StudioError(f"{src.name} is not a readable zip ({err}); zip the data file and its images again") from None
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        if len(members) > MAX_FILES:
            raise StudioError(f"{src.name} holds {len(members)} files, over the limit of {MAX_FILES}")
        total = sum(m.file_size for m in members)
        if total > max_bytes:
            raise StudioError(f"{src.name} unpacks to {total / 1024**2:.0f} MB, over the {max_bytes / 1024**2:.0f} MB "
                              "limit; split the data into smaller zips")
        for m in members:
            name = PurePosixPath(m.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts or (name.parts and ":" in name.parts[0]):
                raise StudioError(f"{src.name}: '{m.filename}' would unpack outside its folder; the zip is refused")
            if stat.S_ISLNK(m.external_attr >> 16):
                raise StudioError(f"{src.name}: '{m.filename}' is a link; the zip is refused")
            if m.compress_size and m.file_size / m.compress_size > MAX_RATIO and m.file_size > 10 * 1024**2:
                raise StudioError(f"{src.name}: '{m.filename}' expands {m.file_size // m.compress_size}x; the zip is refused")
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        root = target.resolve()
        written = 0
        for m in members:
            out = (root / m.filename.replace("\\", "/")).resolve()
            if not out.is_relative_to(root):
                raise StudioError(f"{src.name}: '{m.filename}' would unpack outside its folder; the zip is refused")
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(m) as fin, open(out, "wb") as fout:
                while chunk := fin.read(1 << 20):
                    written += len(chunk)
                    if written > max_bytes:  # the sizes the zip declares can lie
                        shutil.rmtree(target, ignore_errors=True)
                        raise StudioError(f"{src.name} unpacks to more than {max_bytes / 1024**2:.0f} MB; refused")
                    fout.write(chunk)


def _data_file(folder: Path, zip_name: str) -> Path:
    found = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES
                   and "__MACOSX" not in p.parts and not p.name.startswith("."))  # hidden: this module's mark, ._ files
    if len(found) > 1:
        named = [p for p in found if p.stem.lower() in ("data", "train", "dataset")]
        found = named if len(named) == 1 else found
    if not found:
        raise StudioError(f"{zip_name} holds no data file; put a JSON, JSONL, CSV or Parquet file next to the images")
    if len(found) > 1:
        names = ", ".join(str(p.relative_to(folder)) for p in found[:5])
        raise StudioError(f"{zip_name} holds several data files ({names}); keep one, or name it data.jsonl")
    return found[0]

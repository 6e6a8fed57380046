"""The Data tab for data with images: read, checked and previewed by the reader of the task that trains on it
(``studio.tasks.data_reader``), never by the text intake. Thumbnails are small downscaled copies inlined as
``data:`` URIs, so no image file on the server is ever served; on a shared studio the messages name images by
their place inside the upload, never by where the server keeps them."""

from __future__ import annotations

import html
import re
from pathlib import Path

from studio.core.errors import StudioError
from studio.ui.common import esc, shown_path
from studio.ui.data_view import token_mask_html

ABSOLUTE = re.compile(r"(?<![\w.])/[^\s:;,'\"()]+")


def hides_paths(ctx, runs) -> bool:
    """Server paths stay hidden from everyone but an admin on a shared studio."""
    return bool(ctx.access.shared) and not getattr(runs, "admin", False)


def hide(text: str, base: Path, runs, hidden: bool) -> str:
    """``text`` with the data folder's paths made relative to it (an image as the zip names it), and, when
    ``hidden``, any other absolute path cut to what ``shown_path`` shows this person."""
    text = text.replace(str(base) + "/", "")
    if not hidden:
        return text
    return ABSOLUTE.sub(lambda m: shown_path(runs, m.group(0)), text)


def analyse(ctx, reader, path: str, model_source: str, max_length: int, runs=None) -> dict:
    """Read and check an image data file with its task's reader; what the tab shows about it."""
    policy = ctx.access.policy
    try:
        ds = reader.read(path, confine=bool(ctx.access.shared), max_unpacked_bytes=policy.unzip_bytes(ctx.access.shared))
    except StudioError as err:
        if "no usable" in str(err) and not str(path).lower().endswith(".zip"):  # its images were not uploaded with it
            raise StudioError(f"{err}. To bring the images along, upload a .zip holding the data file and its images "
                              "(paths relative to the data file)") from None
        raise
    report = reader.check(ds, model_source or "smollm2", max_length)
    hidden = hides_paths(ctx, runs)
    base = Path(ds.source).resolve().parent
    ds.malformed = [(n, hide(why, base, runs, hidden)) for n, why in ds.malformed]
    out = report.to_dict()
    for f in out.get("findings") or []:
        f["message"] = hide(f["message"], base, runs, hidden)
    return {"ds": ds, "report": out, "lengths": list(report.lengths or []), "sampled": False, "labels": None,
            "path": str(path), "model": model_source, "images": reader.describe(ds)}


def summary_md(loaded: dict, path: str) -> str:
    ds = loaded["ds"]
    n, bad = len(ds.records) + len(ds.malformed), len(ds.malformed)
    counts = f"{n} records: {len(ds.records)} usable, {bad} left out" if bad else f"{n} records"
    text = f"**{esc(Path(path).name)}**: {counts}, {esc(loaded['images'])}, format **{esc(ds.format)}**."
    if bad:
        unit = "line" if ds.line_based else "record"
        first = "; ".join(f"{unit} {n}: {esc(why)}" for n, why in ds.malformed[:3])
        text += f"\n\n⚠ {bad} record{'s' if bad != 1 else ''} left out ({first})."
    return text


def first_rows(reader, ds, limit: int = 20) -> tuple[list[str], list[list]]:
    unit = "line" if ds.line_based else "record"
    rows = [[n, reader.text(rec), len(rec["images"])] for n, rec in zip(ds.lines[:limit], ds.records[:limit])]
    return [unit, "conversation", "images"], rows


def flagged_md(loaded: dict, reader, shown: int = 3) -> str:
    """Each finding's first records: the conversation of a usable one, the reason of one left out."""
    ds = loaded["ds"]
    by_line = dict(zip(ds.lines, ds.records))
    left_out = dict(ds.malformed)
    unit = "line" if ds.line_based else "record"
    parts = []
    for f in loaded["report"].get("findings") or []:
        items = []
        for n in (f.get("records") or [])[:shown]:
            what = reader.text(by_line[n]) if n in by_line else left_out.get(n, "")
            items.append(f"- {unit} {n}: `{esc(' '.join(str(what).split())[:240]).replace('`', '')}`")
        if items:
            parts.append(f"**{f['check']}** ({f['count']}):\n" + "\n".join(items))
    return "\n\n".join(parts)


def preview_html(reader, loaded: dict, index: int, max_length: int, train_on_prompt: bool = False) -> str:
    """The example's images as thumbnails above its conversation, what is learned from marked."""
    ds = loaded["ds"]
    i = max(0, min(int(index or 1) - 1, len(ds.records) - 1))
    rec = ds.records[i]
    thumbs = "".join(f'<img src="{html.escape(uri)}" alt="image {k}" class="data-thumb" '
                     'style="max-width:96px;max-height:96px;margin:0 6px 6px 0;border:1px solid #cbd5e0;border-radius:4px">'
                     for k, uri in enumerate(reader.thumbnails(rec), 1))
    pieces = reader.pieces(rec, loaded.get("model") or "", int(max_length or 512), train_on_prompt)
    return f'<div class="data-thumbs">{thumbs}</div>' + token_mask_html(pieces)

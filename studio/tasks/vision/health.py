"""Health checks for conversations with images (``studio.data.health``'s report, for the vision task's records).

Findings:
- ``image_unreadable`` (error): images missing, not images, or cut short; those records are left out;
- ``image_markers`` (error): ``<image>`` markers in the text and the images given do not pair up;
- ``image_duplicates`` (info): the same image file content in several records (fine for several questions about one
  picture; a sign of copied records otherwise);
- ``image_near_duplicates`` (info): images that look the same (a perceptual average hash, 64 bits, differing in at
  most ``NEAR`` bits, and about the same average colour) though their files differ: resized or re-encoded copies;
- ``image_size`` (warning): images far smaller than the model's processor works at (upscaled: blurry) or huge
  (decoding and resizing cost memory and time for nothing);
- ``image_tokens`` (info, with a processor): image tokens per example (median, most); ``Report.lengths`` holds
  the tokens per example, images included; ``image_tokens_over_length`` (warning): records whose images alone do
  not fit in ``max_length`` tokens (left out of training).
"""

from __future__ import annotations

import hashlib

from studio.data.formats import RowError
from studio.data.health.report import Finding, Report
from studio.tasks.vision.images import image_bytes, open_image

NEAR = 5  # bits of the 64-bit average hash that may differ for two images to count as the same picture
TINY, HUGE = 16, 4096  # pixels on the shorter side / on the longer side, without a processor to ask


def average_hash(image) -> int:
    """A 64-bit perceptual hash: the image as 8x8 greys, one bit per cell brighter than the mean."""
    from PIL import Image

    small = image.convert("L").resize((8, 8), Image.Resampling.BILINEAR)
    pixels = list(small.getdata())
    mean = sum(pixels) / 64
    return sum(1 << i for i, p in enumerate(pixels) if p > mean)


def mean_colour(image) -> tuple[float, ...]:
    """The image's average colour (the hash sees only light and dark: two flat images of other colours differ here)."""
    from PIL import ImageStat

    return tuple(ImageStat.Stat(image.convert("RGB").resize((8, 8))).mean)


def looks_same(a: tuple, b: tuple) -> bool:
    """Two (hash, colour) signatures of one picture: at most NEAR hash bits and 24 levels per channel apart."""
    return bin(a[0] ^ b[0]).count("1") <= NEAR and max(abs(x - y) for x, y in zip(a[1], b[1])) <= 24


def processor_size(processor) -> tuple[int, int] | None:
    """(smallest, largest) side in pixels the processor works at, when it says."""
    ip = getattr(processor, "image_processor", None)
    if ip is None:
        return None
    size = getattr(ip, "size", None) or {}
    if getattr(ip, "min_pixels", None) and getattr(ip, "max_pixels", None):
        return int(ip.min_pixels ** 0.5), int(ip.max_pixels ** 0.5)
    if isinstance(size, dict):
        if "shortest_edge" in size:
            return int(size["shortest_edge"]), int(size.get("longest_edge") or size["shortest_edge"] * 4)
        if "height" in size:
            return int(min(size["height"], size["width"])), int(max(size["height"], size["width"]))
        if "longest_edge" in size:
            return int(size["longest_edge"]) // 8, int(size["longest_edge"])
    return None


def check_images(ds, processor=None, max_length: int | None = None) -> Report:
    """The image findings for a Dataset read by ``studio.tasks.vision.intake.load``."""
    findings: list[Finding] = []
    unreadable = [(n, why) for n, why in ds.malformed if "image" in why and "marker" not in why]
    markers = [(n, why) for n, why in ds.malformed if "marker" in why]
    if unreadable:
        findings.append(Finding("image_unreadable", "error", len(unreadable), [n for n, _ in unreadable],
                                f"{len(unreadable)} record(s) have an image that is missing or cannot be read, so they "
                                f"are left out; first: {_where(ds, unreadable[0])}. Fix: put the image files next to "
                                "the data file (paths relative to it) or replace the broken ones"))
    if markers:
        findings.append(Finding("image_markers", "error", len(markers), [n for n, _ in markers],
                                f"{len(markers)} record(s) have <image> markers and images that do not pair up; first: "
                                f"{_where(ds, markers[0])}. Fix: one <image> marker per image, in the order of the images"))
    seen: dict[str, int] = {}
    signatures: list[tuple[tuple, str]] = []  # ((hash, colour), sha)
    dup_lines, near_lines, small, big = [], [], [], []
    lo, hi = processor_size(processor) or (TINY, HUGE)
    for line, rec in zip(ds.lines, ds.records):
        for ref, size in zip(rec["images"], rec.get("image_sizes") or [None] * len(rec["images"])):
            try:
                data = image_bytes(ref)
                picture = open_image(ref)
            except RowError:
                continue
            sha = hashlib.sha256(data).hexdigest()
            if sha in seen:  # an exact copy is counted as one, not again as a near one
                if seen[sha] != line:
                    dup_lines.append(line)
            else:
                seen[sha] = line
                sig = (average_hash(picture), mean_colour(picture))
                if any(looks_same(sig, other) for other, _ in signatures):
                    near_lines.append(line)
                signatures.append((sig, sha))
            w, ht = size or picture.size
            if min(w, ht) < lo / 4:
                small.append(line)
            elif max(w, ht) > max(hi * 4, HUGE):
                big.append(line)
    if dup_lines:
        findings.append(Finding("image_duplicates", "info", len(dup_lines), sorted(set(dup_lines)),
                                f"{len(dup_lines)} image(s) are exact copies of an image in an earlier record; fine for "
                                "several questions about one picture, a sign of copied records otherwise"))
    if near_lines:
        findings.append(Finding("image_near_duplicates", "info", len(near_lines), sorted(set(near_lines)),
                                f"{len(near_lines)} image(s) look the same as an image in another record though the "
                                "files differ (resized or re-encoded copies); held-out copies make evaluation look better "
                                "than it is"))
    if small or big:
        parts = []
        if small:
            parts.append(f"{len(small)} far smaller than the {lo} px the model works at (upscaled, blurry)")
        if big:
            parts.append(f"{len(big)} huge (over {max(hi * 4, HUGE)} px on a side: slow to decode, shrunk anyway)")
        findings.append(Finding("image_size", "warning", len(small) + len(big), sorted(set(small + big)),
                                "Images: " + "; ".join(parts) + ". Fix: use images of a few hundred pixels a side"))
    lengths = None
    if processor is not None:
        from studio.tasks.vision.encode import measure

        lengths, too_long, image_tokens = [], [], []
        for line, rec in zip(ds.lines, ds.records):
            try:
                m = measure(processor, rec, max_length or 10**9)
            except RowError:
                continue
            lengths.append(m["tokens"])
            image_tokens.append(m["image_tokens"])
            if not m["fits"]:
                too_long.append(line)
        if image_tokens:
            ordered = sorted(image_tokens)
            findings.append(Finding("image_tokens", "info", 0, [],
                                    f"Images take {ordered[len(ordered) // 2]} tokens per example (median), "
                                    f"{ordered[-1]} at most, of {sorted(lengths)[len(lengths) // 2]} in all (median)"))
        if too_long:
            findings.append(Finding("image_tokens_over_length", "warning", len(too_long), too_long,
                                    f"{len(too_long)} record(s) need more than max length {max_length} tokens for their "
                                    "images alone, so they cannot train; raise max length or use fewer images"))
    return Report(format=ds.format, rows=len(ds.records), findings=findings, source=ds.source, lengths=lengths,
                  malformed=len(ds.malformed))


def _where(ds, item) -> str:
    n, why = item
    return f"{'line' if ds.line_based else 'record'} {n}: {why}"


def run_check(args, format_report) -> int:
    """``python -m studio check FILE --images``: the image report (``format_report`` lays it out as for text)."""
    import json

    from studio.core.errors import StudioError
    from studio.tasks.vision.intake import load

    unused = [flag for flag, value in (("--eval", args.eval), ("--fix", args.fix), ("--fill", args.fill),
                                       ("--column", args.column)) if value]
    if unused:
        raise StudioError(f"{', '.join(unused)}: not available for conversations with images (yet); check without them")
    ds = load(args.file)
    processor = None
    if args.model:
        from studio.tasks.vision.model import check_model, load_processor

        check_model(args.model)
        processor = load_processor(args.model)
    report = check_images(ds, processor, args.max_length)
    if args.json:
        print(json.dumps(report.to_dict() | {"images": sum(len(r["images"]) for r in ds.records)}, ensure_ascii=False))
        return 0
    images = sum(len(r["images"]) for r in ds.records)
    print(format_report(report, ds, model=args.model or None).replace(
        ": vision,", f": conversations with {images} image{'s' * (images != 1)},", 1).replace(" (columns: )", "", 1))
    return 0

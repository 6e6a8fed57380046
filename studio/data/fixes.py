"""One-click fixes for what the health report finds. The original file is never touched.

``apply_fixes`` writes the fixed records as a new version, ``<out_dir>/<stem>.v2.jsonl`` (then ``.v3``,
...), in the studio's normalised form, so that it loads back with ``load_dataset`` as the same kind of
data (conversations as ``{"messages": [...]}``). Next to it, ``<stem>.v2.fixes.json`` records what each
fix removed or changed, by the lines (or record numbers) of the original file.

Fixes:

- ``drop_duplicates``: keep the first of each set of exact repeats.
- ``drop_near_duplicates``: keep the first of records that are equal once case, spaces and
  punctuation are ignored (exact repeats too).
- ``drop_empty``: drop records with a blank text, prompt, answer or label, and conversations with
  no assistant answer.
- ``drop_malformed``: the unreadable rows are already left out on loading; this records them.
- ``merge_label_variants``: rename labels that differ only in case, spaces or punctuation to the most
  common spelling of each.
- ``strip_markup``: remove HTML tags, decode HTML entities, and, in plain text and classification
  data, remove Markdown residue (bold markers, links become their text, heading marks).
  Code blocks in conversations are left as they are.
- ``drop_leaked``: drop training records that also appear in the eval data (needs ``eval_ds``).
- ``drop_identical_pairs``: drop preference pairs whose chosen and rejected answers are the same.
- ``fill_placeholders``: replace template placeholders (``{{name}}``, ``<NAME>``, ``[INSERT NAME]``,
  ``{name}``) with the values given in ``fill`` (placeholder key -> value; keys without a value stay).
- ``repair_text``: repair garbled text (mojibake such as "cafÃ©", HTML-escaped and broken Unicode) with ftfy.

``drop_near_duplicates`` also drops records with nearly the same text (MinHash, see
``studio.data.health.similar``), as the ``near_duplicate`` check finds them.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from studio.data.fix_text import placeholder_values, rewrite_record, text_fix
from studio.data.formats import registry
from studio.data.health.cleanliness import _CODE, _HTML
from studio.data.health.keys import exact_key, label_key, norm_key
from studio.data.health.pairs import identical_pair
from studio.data.health.similar import near_keep
from studio.data.intake import Dataset
from studio.core.errors import StudioError

FIXES = ("drop_duplicates", "drop_near_duplicates", "drop_empty", "drop_malformed", "merge_label_variants",
         "strip_markup", "drop_leaked", "drop_identical_pairs", "fill_placeholders", "repair_text")
# Applied in this order whatever order they are given in: cleaning first, so that records that become
# equal once cleaned are then caught as duplicates.
_ORDER = ("drop_malformed", "merge_label_variants", "repair_text", "fill_placeholders", "strip_markup", "drop_empty",
          "drop_identical_pairs", "drop_leaked", "drop_duplicates", "drop_near_duplicates")


@dataclass
class FixResult:
    fix: str
    removed: list[int] = field(default_factory=list)  # original lines / record numbers
    changed: list[int] = field(default_factory=list)
    note: str = ""


@dataclass
class FixRecord:
    """What a set of fixes did, by the lines of the original file."""

    source: str  # the file the records came from
    output: str  # the new version
    fixes: list[FixResult]
    rows_before: int
    rows_after: int
    origin: list[int] = field(default_factory=list)  # for each record of the new version, its original line

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        parts = []
        for f in self.fixes:
            if f.removed:
                parts.append(f"{f.fix}: removed {len(f.removed)}")
            elif f.changed:
                parts.append(f"{f.fix}: changed {len(f.changed)}")
            else:
                parts.append(f"{f.fix}: nothing to do")
        return f"{self.rows_before} -> {self.rows_after} records ({'; '.join(parts)}); saved as {self.output}"


def apply_fixes(ds: Dataset, fixes: list[str], eval_ds: Dataset | None = None, out_dir=None,
                fill: dict | None = None) -> tuple[Dataset, FixRecord]:
    """Apply fixes to a copy of the records and save it as the next version; the original is untouched.

    ``out_dir`` defaults to a ``versions`` folder next to the source file; ``fill`` has the values for
    ``fill_placeholders`` (``{"name": "Aria"}``).
    """
    unknown = [f for f in fixes if f not in FIXES]
    if unknown:
        raise StudioError(f"unknown fix '{unknown[0]}'; choose from: {', '.join(FIXES)}")
    if "drop_leaked" in fixes and eval_ds is None:
        raise StudioError("drop_leaked needs the eval data to compare with; load it and pass it as eval_ds")
    records = [_copy(r) for r in ds.records]
    origin = list(ds.lines)
    results: list[FixResult] = []
    chat_like = registry.get(ds.format).conversational
    for name in _ORDER:
        if name not in fixes:
            continue
        res = FixResult(name)
        if name == "drop_malformed":
            res.removed = [n for n, _ in ds.malformed]
            res.note = "unreadable rows, left out when the file was loaded"
        elif name == "merge_label_variants":
            _merge_labels(records, origin, res)
        elif name in ("repair_text", "fill_placeholders"):
            fn = text_fix(name, fill)
            res.changed = [n for rec, n in zip(records, origin) if rewrite_record(rec, fn)]
            if name == "fill_placeholders":
                res.note = ", ".join(f"{k} -> {v!r}" for k, v in placeholder_values(fill).items())
        elif name == "strip_markup":
            for rec, n in zip(records, origin):
                if _strip_record(rec, markdown=not chat_like):
                    res.changed.append(n)
        else:
            keep = _keep(name, records, eval_ds)
            res.removed = [n for n, k in zip(origin, keep) if not k]
            records = [r for r, k in zip(records, keep) if k]
            origin = [n for n, k in zip(origin, keep) if k]
        results.append(res)
    if not records:
        raise StudioError("these fixes would remove every record; nothing was saved")

    out = _next_version(Path(ds.source), Path(out_dir) if out_dir else None)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    tmp.replace(out)
    fmt, columns = registry.get(ds.format).saved()  # the format the normalised records load back as
    new = Dataset(format=fmt, records=records, lines=list(range(1, len(records) + 1)), malformed=[], columns=columns,
                  source=str(out))
    record = FixRecord(source=ds.source, output=str(out), fixes=results, rows_before=len(ds.records),
                       rows_after=len(records), origin=origin)
    out.with_name(out.name[: -len(".jsonl")] + ".fixes.json").write_text(json.dumps(record.to_dict(), indent=1) + "\n",
                                                                          encoding="utf-8")
    return new, record


def _copy(rec: dict) -> dict:
    out = dict(rec)
    if "messages" in out:
        out["messages"] = [dict(m) for m in out["messages"]]
    return out


def _keep(name: str, records: list[dict], eval_ds: Dataset | None) -> list[bool]:
    if name == "drop_empty":
        return [not _is_empty(r) for r in records]
    if name == "drop_identical_pairs":
        return [not identical_pair(r) for r in records]
    if name == "drop_leaked":
        eval_keys = {norm_key(r) for r in eval_ds.records}
        return [norm_key(r) not in eval_keys for r in records]
    key = exact_key if name == "drop_duplicates" else norm_key
    seen: set = set()
    keep = []
    for r in records:
        k = key(r)
        keep.append(k not in seen)
        seen.add(k)
    if name == "drop_near_duplicates":  # and nearly the same text, as the near_duplicate check finds it
        kept = [i for i, k in enumerate(keep) if k]
        for i, k in zip(kept, near_keep([records[i] for i in kept])):
            keep[i] = k
    return keep


def _is_empty(rec: dict) -> bool:
    msgs = rec.get("messages")
    if msgs is not None:
        blank = any(not m["content"].strip() and not m.get("tool_calls") for m in msgs)
        if "chosen" in rec:
            return not rec["chosen"].strip() or not rec["rejected"].strip() or blank
        if "completion" in rec:
            return not rec["completion"].strip() or blank
        return not any(m["role"] == "assistant" for m in msgs) or blank
    return not rec.get("text", "").strip() or ("label" in rec and not rec["label"].strip())


def _merge_labels(records: list[dict], origin: list[int], res: FixResult) -> None:
    counts = Counter(r["label"] for r in records if "label" in r)
    groups: dict[str, Counter] = {}
    for lab, k in counts.items():
        groups.setdefault(label_key(lab), Counter())[lab] = k
    canon = {}
    for c in groups.values():
        if len(c) > 1:
            best = c.most_common(1)[0][0]
            canon.update({lab: best for lab in c if lab != best})
    for rec, n in zip(records, origin):
        new = canon.get(rec.get("label"))
        if new is not None:
            rec["label"] = new
            res.changed.append(n)
    if canon:
        res.note = "; ".join(f"{old!r} -> {new!r}" for old, new in canon.items())


_MD_LINK = re.compile(r"!?\[([^\]\n]{1,200})\]\((?:https?://|www\.|/)[^)\s]*\)")
_MD_BOLD = re.compile(r"\*\*([^*\n]{1,100})\*\*|__([^_\n]{1,100})__")
_MD_HEADING = re.compile(r"^#{1,6} +", re.MULTILINE)
_MD_FENCE = re.compile(r"^```[\w-]*\s*$\n?", re.MULTILINE)
_BLOCK_TAGS = re.compile(r"<\s*(?:br|/p|/div|/li|/h[1-6]|/tr)\b[^>]*>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t]{2,}")


def strip_markup(text: str, markdown: bool = True) -> str:
    """Text without HTML tags and entities (and, with ``markdown``, without Markdown markers)."""
    out = _BLOCK_TAGS.sub("\n", text) if "<" in text else text
    out = _HTML.sub(lambda m: "" if m.group(0).startswith("<") else html.unescape(m.group(0)), out)
    if markdown:
        out = _MD_LINK.sub(r"\1", out)
        out = _MD_BOLD.sub(lambda m: m.group(1) or m.group(2), out)
        out = _MD_HEADING.sub("", out)
        out = _MD_FENCE.sub("", out)
    if out != text:
        out = _SPACES.sub(" ", out)
        out = re.sub(r"\n{3,}", "\n\n", out)
    return out


def _strip_keep_code(text: str) -> str:
    """HTML removed outside code blocks; code is content in a conversation."""
    pieces, last = [], 0
    for m in _CODE.finditer(text):
        pieces.append(strip_markup(text[last: m.start()], markdown=False) if text[last: m.start()].strip() else text[last: m.start()])
        pieces.append(m.group(0))
        last = m.end()
    rest = text[last:]
    pieces.append(strip_markup(rest, markdown=False) if rest.strip() else rest)
    return "".join(pieces)


def _strip_record(rec: dict, markdown: bool) -> bool:
    changed = False
    if "messages" in rec:
        for m in rec["messages"]:
            new = _strip_keep_code(m["content"]) if "<" in m["content"] or "&" in m["content"] else m["content"]
            if new != m["content"]:
                m["content"], changed = new, True
        for key in ("chosen", "rejected"):
            if key in rec:
                new = _strip_keep_code(rec[key])
                if new != rec[key]:
                    rec[key], changed = new, True
        return changed
    new = strip_markup(rec.get("text", ""), markdown=markdown)
    if new != rec.get("text", ""):
        new = new.strip()
        rec["text"] = new
        return True
    return False


_VERSION = re.compile(r"^(?P<stem>.+?)\.v(?P<n>\d+)$")


def _next_version(source: Path, out_dir: Path | None) -> Path:
    folder = out_dir or source.parent / "versions"
    stem = source.stem
    m = _VERSION.match(stem)
    if m:
        stem = m.group("stem")
    n = int(m.group("n")) + 1 if m else 2
    while (folder / f"{stem}.v{n}.jsonl").exists():
        n += 1
    return folder / f"{stem}.v{n}.jsonl"

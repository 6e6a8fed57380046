"""Labels of a classification run: spellings merged, ids in sorted order, the label file saved with the model.

Spellings of a label that differ only in case, spaces or punctuation are one label (the most common
spelling), by the data health report's own rule (``studio.data.health.label_key``). Labels become ids in
sorted order of their strings and are saved in the model's config (``id2label`` / ``label2id``) and in
``labels.json`` next to the model.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from studio.data.health import label_key  # the one rule for "spellings of one label"
from studio.core.errors import StudioError

LABELS_FILE = "labels.json"  # written next to the saved model: the label order, method and base model


def label_names(records: list[dict]) -> list[str]:
    """The label set of some records, as sorted strings: position i is label id i."""
    return sorted({str(r["label"]) for r in records})


def clean_label(value) -> str:
    """A label as the model learns it: a string without surrounding or repeated spaces ("positive " is "positive")."""
    return " ".join(str(value).split())


def label_aliases(records: list[dict]) -> dict[str, str]:
    """Spellings of a label that differ only in case, spaces or punctuation ("Positive", "positive ", "positive."),
    each mapped to the most common spelling of its group (ties: the first in sorted order). Spellings already canonical are left out."""
    raw_counts = Counter(str(r["label"]) for r in records)
    groups: dict[str, Counter] = {}
    for raw, n in raw_counts.items():
        clean = clean_label(raw)
        if clean:
            groups.setdefault(label_key(clean), Counter())[clean] += n
    canon = {key: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for key, c in groups.items()}
    out = {}
    for raw in raw_counts:
        clean = clean_label(raw)
        if clean and canon[label_key(clean)] != raw:
            out[raw] = canon[label_key(clean)]
    return out


def label_matcher(labels: list[str]):
    """A function from a raw label to one of ``labels`` (exact, else the same once case, spaces and punctuation are ignored),
    or None for a label the model does not know."""
    exact = set(labels)
    folded: dict[str, str] = {}
    for name in labels:
        folded.setdefault(label_key(clean_label(name)), name)

    def match(raw) -> str | None:
        raw = str(raw)
        if raw in exact:
            return raw
        clean = clean_label(raw)
        if clean in exact:
            return clean
        return folded.get(label_key(clean)) if clean else None

    return match


def label_maps(labels: list[str]) -> tuple[dict[int, str], dict[str, int]]:
    id2label = {i: name for i, name in enumerate(labels)}
    return id2label, {name: i for i, name in id2label.items()}


def check_records(records: list[dict], where: str) -> None:
    """Raise a StudioError when records are not text+label pairs."""
    bad = next((i for i, r in enumerate(records) if not isinstance(r, dict) or "text" not in r or "label" not in r), None)
    if bad is not None:
        keys = ", ".join(sorted(records[bad])) if isinstance(records[bad], dict) else type(records[bad]).__name__
        raise StudioError(
            f"{where}: classification needs records with a text and a label, but record {bad + 1} has {keys}; "
            "use a CSV/JSONL with text and label columns, or map yours with data.columns, e.g. text=review,label=sentiment"
        )


def class_weights(counts: dict[str, int], labels: list[str]) -> list[float]:
    """Inverse-frequency weights, N / (K * n_c): a balanced set gets all ones, and the average weight of a
    training example stays 1 so the loss keeps its usual scale."""
    total = sum(counts.get(name, 0) for name in labels)
    k = len(labels)
    return [round(total / (k * counts[name]), 6) if counts.get(name) else 0.0 for name in labels]


def read_labels(model_dir: str | Path) -> list[str]:
    """The label order of a saved classifier: labels.json, else the model config's id2label."""
    d = Path(model_dir)
    meta = d / LABELS_FILE
    if meta.exists():
        return list(json.loads(meta.read_text(encoding="utf-8"))["labels"])
    cfg = d / "config.json"
    if cfg.exists():
        id2label = json.loads(cfg.read_text(encoding="utf-8")).get("id2label") or {}
        return [id2label[k] for k in sorted(id2label, key=int)]
    raise StudioError(f"{model_dir} has no labels.json or config.json; is it a classification model folder?")

"""Classification training: what the trainer gets to teach a model to label text."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from studio.core import models
from studio.core.config import StudioConfig
from studio.core.params import count_parameters
from studio.core.setup import TaskSetup
from studio.core.errors import StudioError
from studio.tasks.classification.labels import (LABELS_FILE, check_records, class_weights, clean_label, label_aliases,
                                                label_maps, label_matcher, label_names)
from studio.tasks.classification.model import effective_max_length, load_for_training
from studio.tasks.classification.training import encode, make_collator, make_compute_metrics, make_loss_func


def setup_classification(config: StudioConfig, hw, train_records: list, eval_records: list) -> TaskSetup:
    """Everything the trainer needs to teach the model to label text."""
    check_records(train_records, f"data.train ({config.data.train})")
    n_given = len(train_records)
    if eval_records:
        check_records(eval_records, f"data.eval ({config.data.eval or 'held-out split'})")
    # "Positive", "positive " and "positive" are one label; records without a label are left out.
    aliases = label_aliases(train_records)
    train_records = [dict(r, label=aliases.get(str(r["label"]), str(r["label"]))) for r in train_records
                     if clean_label(r["label"])]
    labels = label_names(train_records)
    match = label_matcher(labels)
    eval_records = [dict(r, label=match(r["label"]) or str(r["label"])) for r in eval_records]
    if len(labels) < 2:
        raise StudioError(
            f"data.train: classification needs at least two different labels, found {len(labels)} "
            f"({', '.join(labels) or 'none'}); check the label column"
        )
    counts = Counter(str(r["label"]) for r in train_records)
    id2label, label2id = label_maps(labels)
    tokenizer = models.load_tokenizer(config.model.source, config.model.trust_remote_code)
    model = load_for_training(config, hw, labels, tokenizer)
    max_length = effective_max_length(tokenizer, model.config, config.data.max_length)
    train, train_cut = encode(tokenizer, train_records, label2id, max_length)
    evals, eval_cut = encode(tokenizer, eval_records, label2id, max_length)
    weights = class_weights(counts, labels) if config.classification.class_weights else None
    total, trainable = count_parameters(model)
    info = {
        "labels": labels,
        "label_counts": {name: counts[name] for name in labels},
        "eval_label_counts": dict(sorted(Counter(str(r["label"]) for r in eval_records).items())),
        "majority_share": round(max(counts.values()) / sum(counts.values()), 4),
        "merged_labels": aliases or None,  # spelling -> the label it was learned as
        "empty_labels": n_given - len(train_records),  # training records without a label, left out
        "class_weights": dict(zip(labels, weights)) if weights else None,
        "max_length": max_length,
        "truncated_examples": train_cut["truncated"] + eval_cut["truncated"],
        "eval_unknown_labels": eval_cut["unknown_label"],
        "parameters": total,
        "trainable_parameters": trainable,
        "real_tokens": sum(len(e["input_ids"]) for e in train),
    }

    def save_extra(folder: Path) -> None:
        meta = {"labels": labels, "id2label": {str(i): n for i, n in id2label.items()}, "label2id": label2id,
                "method": config.method, "base_model": config.model.source, "max_length": max_length,
                "merged_labels": aliases}
        (Path(folder) / LABELS_FILE).write_text(json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8")

    # Classification texts are short, and batches sorted by length can end up sorted by label too:
    # transformers' own length grouping, not the studio's length buckets.
    return TaskSetup(model, tokenizer, train, evals, make_collator(tokenizer, hw), info,
                     compute_metrics=make_compute_metrics(len(labels)), save_extra=save_extra,
                     loss_func=make_loss_func(weights), length_sorted_batches=False)

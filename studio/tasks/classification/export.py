"""Exporting a classification run: one standalone model that ``pipeline("text-classification")`` loads."""

from __future__ import annotations

from pathlib import Path

from studio.core import models
from studio.tasks.classification.model import load_tuned


def merged_model(folder, config):
    """(merged model, tokenizer, base model config): the base with the run's label head, adapter merged in."""
    merged, tok = load_tuned(folder.path)
    return merged, tok, models.load_config(config.model.source, config.model.trust_remote_code)


def export_classifier(run_dir: str | Path, out_dir: str | Path) -> str:
    """Save the tuned classifier (merged) with its tokenizer and label names, loadable with
    ``pipeline("text-classification", model=out_dir)``."""
    model, tok = load_tuned(run_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return str(out)


def load_snippet(kind: str, path: str) -> str:
    if kind == "adapter":
        return ("import json\nfrom peft import AutoPeftModelForSequenceClassification\nfrom transformers import AutoTokenizer\n"
                f"labels = json.load(open({path!r} + \"/labels.json\"))[\"labels\"]  # the head's size and names\n"
                f"model = AutoPeftModelForSequenceClassification.from_pretrained({path!r}, num_labels=len(labels),\n"
                "    id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)})\n"
                f"tokenizer = AutoTokenizer.from_pretrained({path!r})")
    return ("from transformers import pipeline\n"
            f"classify = pipeline(\"text-classification\", model={path!r})\n"
            "print(classify(\"Some text to label\", truncation=True))  # truncation: long texts are cut, not refused")

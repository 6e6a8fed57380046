"""The ``reward_model`` reward: a classifier's probability of a chosen label for each reply.

``path`` is a classification run of this studio (its tuned model, labels from the run) or a folder holding a
sequence-classification model in Hugging Face layout (labels from its ``id2label``; a model with one output gives the
sigmoid of that output). Loaded once per run, on the CPU unless a GPU is there.
"""

from __future__ import annotations

from pathlib import Path

from studio.core.errors import StudioError


def classifier_reward(path: str, label, where: str, base: Path | None, load: bool = True):
    p = Path(path).expanduser()
    if not p.is_absolute() and base is not None and (base / p).exists():
        p = base / p
    if not p.is_dir():
        raise StudioError(f"{where}: {path} is not a folder; give a classification run folder or a model folder")
    if (p / "config.yaml").is_file():
        from studio.tasks.classification.predict import Classifiers

        model = Classifiers(p)
        labels, probs = list(model.labels), lambda texts: [[d[k] for k in model.labels] for d in model.predict(texts)]
    elif (p / "config.json").is_file():
        model, labels = _plain(p)
        probs = model
    else:
        raise StudioError(f"{where}: {path} holds neither a studio run (config.yaml) nor a model (config.json)")
    if len(labels) == 1:
        index = 0
    else:
        if label in (None, ""):
            raise StudioError(f"{where}: give label, the one whose probability is the reward; the labels: {', '.join(labels)}")
        if str(label) not in labels:
            raise StudioError(f"{where}: label '{label}' is not one of the model's labels: {', '.join(labels)}")
        index = labels.index(str(label))

    def score(prompts, replies, rows):
        if not replies:
            return []
        return [round(float(row[index]), 5) for row in probs([r or "" for r in replies])]

    return score


def _plain(folder: Path):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(folder))
        model = AutoModelForSequenceClassification.from_pretrained(str(folder), dtype=torch.float32).eval()
    except Exception as err:  # noqa: BLE001 - say what the folder lacks
        raise StudioError(f"{folder} could not be loaded as a sequence-classification model: {type(err).__name__}: {err}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model.config.pad_token_id = tok.pad_token_id
    n = model.config.num_labels
    labels = [str(model.config.id2label.get(i, i)) for i in range(n)] if n > 1 else ["score"]

    def probs(texts):
        with torch.no_grad():
            enc = tok(texts, padding=True, truncation=True, max_length=512, return_tensors="pt")
            logits = model(**enc).logits.float()
        p = torch.sigmoid(logits) if n == 1 else torch.softmax(logits, dim=-1)
        return p.tolist()

    return probs, labels

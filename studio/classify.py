"""Text classification: teach an encoder (or a causal LM with a classification head) to label text.

Training records are ``{"text", "label"}``. Spellings of a label that differ only in case, spaces or punctuation
are one label (the most common spelling). Labels become ids in sorted order of their strings and are
saved in the model's config (``id2label`` / ``label2id``), so the saved model loads with
``pipeline("text-classification", model=DIR)`` after export. Methods: ``full`` (every weight), ``lora``
(adapters on the encoder's linear layers, the new classification head trained in full) and ``qlora``
(LoRA on a 4-bit model, CUDA only).

Evaluation, prediction and the confusion-matrix chart live in :mod:`studio.classify_eval`; they are
re-exported here. Nothing in this module imports torch at import time.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from studio import models
from studio.config import StudioConfig
from studio.errors import StudioError
from studio.data.health import label_key  # the one rule for "spellings of one label"

LABELS_FILE = "labels.json"  # written next to the saved model: the label order, method and base model


# ---- labels ---------------------------------------------------------------------------------------
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


# ---- data -----------------------------------------------------------------------------------------
def encode(tokenizer, records: list[dict], label2id: dict[str, int], max_length: int) -> tuple[list[dict], dict]:
    """Tokenized examples (input_ids, attention_mask, labels) and counts of what was cut or left out."""
    texts = [str(r["text"]) for r in records]
    keep = [i for i, r in enumerate(records) if str(r["label"]) in label2id]
    unknown = len(records) - len(keep)
    if not keep:
        return [], {"unknown_label": unknown, "truncated": 0}
    enc = tokenizer([texts[i] for i in keep], truncation=True, max_length=max_length)
    full = tokenizer([texts[i] for i in keep], truncation=False)["input_ids"]
    out = []
    for j, i in enumerate(keep):
        out.append({
            "input_ids": enc["input_ids"][j],
            "attention_mask": enc["attention_mask"][j],
            "labels": label2id[str(records[i]["label"])],
        })
    truncated = sum(1 for j in range(len(keep)) if len(full[j]) > len(enc["input_ids"][j]))
    return out, {"unknown_label": unknown, "truncated": truncated}


def make_collator(tokenizer, hw=None):
    """Pads each batch to its longest example (dynamic padding) and stacks the label ids."""
    from transformers import DataCollatorWithPadding

    on_gpu = hw is not None and getattr(hw, "device", "cpu") == "cuda"
    return DataCollatorWithPadding(tokenizer, padding="longest", pad_to_multiple_of=8 if on_gpu else None,
                                   return_tensors="pt")


# ---- metrics and loss ------------------------------------------------------------------------------
def scores(y_true: list[int], y_pred: list[int], num_labels: int) -> dict:
    """Accuracy and macro F1 (every label counts equally, absent ones included as 0)."""
    from sklearn.metrics import accuracy_score, f1_score

    if not y_true:
        return {"accuracy": 0.0, "macro_f1": 0.0}
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=list(range(num_labels)), average="macro", zero_division=0)),
    }


def make_compute_metrics(num_labels: int):
    """``compute_metrics`` for the Trainer: its eval events then carry eval_accuracy and eval_macro_f1."""
    import numpy as np

    def compute_metrics(eval_pred) -> dict:
        logits, labels = eval_pred.predictions, eval_pred.label_ids
        if isinstance(logits, (tuple, list)):
            logits = logits[0]
        preds = np.asarray(logits).argmax(-1).reshape(-1).tolist()
        return scores(np.asarray(labels).reshape(-1).tolist(), preds, num_labels)

    return compute_metrics


def make_loss_func(weights: list[float] | None):
    """Cross-entropy for the Trainer (``compute_loss_func``), weighted per class when ``weights`` is given.

    Summed and divided by the number of examples in the whole accumulated batch, so gradient accumulation
    gives the same update as one big batch.
    """

    def loss_func(outputs, labels, num_items_in_batch=None):
        import torch
        import torch.nn.functional as F

        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        logits = logits.float().view(-1, logits.shape[-1])
        labels = labels.view(-1).to(logits.device)
        w = torch.tensor(weights, dtype=torch.float32, device=logits.device) if weights is not None else None
        nll = F.cross_entropy(logits, labels, weight=w, reduction="none")  # w[y] * -log p(y) per example
        n = num_items_in_batch if num_items_in_batch is not None else labels.numel()
        if isinstance(n, torch.Tensor):
            n = n.to(nll.device)
        return nll.sum() / n

    return loss_func


# ---- model ----------------------------------------------------------------------------------------
def head_modules(model) -> list[str]:
    """Names of the top-level modules outside the base network (classifier, score, pre_classifier...):
    new and task-specific, so LoRA trains them in full."""
    prefix = getattr(model, "base_model_prefix", "")
    return [name for name, mod in model.named_children()
            if name != prefix and any(True for _ in mod.parameters())]


def linear_targets(model) -> list[str]:
    """Full names of every linear layer inside the base network (what lora target 'all-linear' means here)."""
    import torch

    heads = tuple(head_modules(model))
    return [name for name, mod in model.named_modules()
            if isinstance(mod, torch.nn.Linear) and not name.split(".")[0] in heads]


def load_classifier(source: str, labels: list[str], trust_remote_code: bool = False, dtype=None, seed: int | None = None,
                    tokenizer=None, **kwargs):
    """The base model with a fresh classification head for ``labels`` (initialised from ``seed``)."""
    from transformers import AutoModelForSequenceClassification, set_seed
    from transformers.utils import logging as hf_logging

    r = models.resolve(source)
    id2label, label2id = label_maps(labels)
    if seed is not None:
        set_seed(seed)
    if dtype is not None:
        kwargs["dtype"] = dtype
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "some weights were newly initialized": the head, on purpose
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            r.path, gguf_file=r.gguf_file, num_labels=len(labels), id2label=id2label, label2id=label2id,
            ignore_mismatched_sizes=True, trust_remote_code=trust_remote_code, **kwargs)
    except OSError as err:
        raise models._hub_error(source, err) from err
    except ValueError as err:
        raise StudioError(f"'{source}' cannot be loaded as a text classifier: {str(err).splitlines()[0]}") from err
    finally:
        hf_logging.set_verbosity(verbosity)
    if r.gguf_file:
        models._clear_gguf_marks(model)
    model.config.problem_type = "single_label_classification"
    if getattr(model.config, "pad_token_id", None) is None:
        # Decoder models find the last real token by the pad id; without it they refuse batches of 2+.
        if tokenizer is None:
            tokenizer = models.load_tokenizer(source, trust_remote_code)
        model.config.pad_token_id = tokenizer.pad_token_id
    return model


def attach_lora(model, config: StudioConfig):
    from peft import LoraConfig, TaskType, get_peft_model

    heads = head_modules(model)
    targets = config.lora.target_modules or ["all-linear"]
    target = linear_targets(model) if targets == ["all-linear"] else targets
    lcfg = LoraConfig(r=config.lora.r, lora_alpha=config.lora.alpha, lora_dropout=config.lora.dropout,
                      target_modules=target, task_type=TaskType.SEQ_CLS, modules_to_save=heads, bias="none")
    try:
        model = get_peft_model(model, lcfg)
    except ValueError as err:
        raise StudioError(f"lora.target_modules: {str(err).splitlines()[0]}; use all-linear or names of the model's linear layers") from err
    import torch

    for p in model.parameters():  # trained weights in fp32, also when the frozen base is in bf16
        if p.requires_grad and p.dtype != torch.float32:
            p.data = p.data.float()
    return model


def load_for_training(config: StudioConfig, hw, labels: list[str], tokenizer):
    import torch

    src, trc, seed = config.model.source, config.model.trust_remote_code, config.train.seed
    if config.method == "qlora":
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        compute = hw.torch_dtype if hw.device == "cuda" else torch.float32
        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                   bnb_4bit_compute_dtype=compute)
        model = load_classifier(src, labels, trc, dtype=compute, seed=seed, tokenizer=tokenizer,
                                quantization_config=quant, device_map={"": 0} if hw.device == "cuda" else {"": "cpu"})
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.train.gradient_checkpointing)
    elif config.method == "lora" and hw.device == "cuda" and hw.precision == "bf16":
        model = load_classifier(src, labels, trc, dtype=torch.bfloat16, seed=seed, tokenizer=tokenizer)
    else:
        model = load_classifier(src, labels, trc, dtype=torch.float32, seed=seed, tokenizer=tokenizer)
    if hasattr(model.config, "use_cache"):
        model.config.use_cache = False
    if config.method in ("lora", "qlora"):
        model = attach_lora(model, config)
    if config.train.gradient_checkpointing and config.method != "qlora":
        if getattr(model, "supports_gradient_checkpointing", True):
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            if config.method == "lora":
                model.enable_input_require_grads()
    return model


def effective_max_length(tokenizer, model_config, wanted: int) -> int:
    """The configured max length, capped by what the model's positions allow."""
    limits = [wanted]
    n_pos = getattr(model_config, "max_position_embeddings", None)
    if isinstance(n_pos, int) and n_pos > 0:
        limits.append(n_pos)
    tml = getattr(tokenizer, "model_max_length", None)
    if isinstance(tml, int) and 0 < tml < 1_000_000:
        limits.append(tml)
    return min(limits)


# ---- the task -------------------------------------------------------------------------------------
def setup_classification(config: StudioConfig, hw, train_records: list, eval_records: list):
    """Everything the trainer needs to teach the model to label text (see :class:`studio.train.TaskSetup`)."""
    from studio.sft import count_parameters
    from studio.train import TaskSetup

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
    weights = class_weights(counts, labels) if config.train.class_weights else None
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

    return TaskSetup(model, tokenizer, train, evals, make_collator(tokenizer, hw), info,
                     compute_metrics=make_compute_metrics(len(labels)), save_extra=save_extra,
                     loss_func=make_loss_func(weights))


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


from studio.classify_eval import (  # noqa: E402 - re-exported: the task's public surface in one place
    Classifiers,
    confusion_figure,
    evaluate_classifier,
    export_classifier,
    load_tuned,
    predict,
)

__all__ = [
    "Classifiers", "class_weights", "clean_label", "confusion_figure", "evaluate_classifier", "export_classifier",
    "label_aliases", "label_maps", "label_matcher", "label_names", "load_classifier", "load_tuned", "make_collator",
    "make_compute_metrics", "make_loss_func", "predict", "read_labels", "setup_classification",
]

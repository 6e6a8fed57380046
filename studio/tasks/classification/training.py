"""Classification examples, batches, metrics and the (optionally class-weighted) loss for the Trainer."""

from __future__ import annotations


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

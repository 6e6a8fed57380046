"""The output layer and the loss only where a token is learned from.

In chat tuning the prompt and system text carry no loss, and they are often most of the tokens; the output layer
(hidden size x vocabulary, the largest matmul of a small model) and the log-softmax over the vocabulary are then
mostly wasted. ``loss_at_trained_positions`` asks the model for logits only at the positions whose next token is
learned from (transformers' ``logits_to_keep``) and computes the same cross-entropy as the model's own loss:
summed, divided by the Trainer's count of learned tokens in the whole accumulated batch.
"""

from __future__ import annotations

import inspect


def supports(model) -> bool:
    """Whether the model's forward takes ``logits_to_keep`` (most causal LMs in transformers 4.50 and later)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # a PEFT model wraps it
    try:
        return "logits_to_keep" in inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        return False


def loss_at_trained_positions(model, inputs: dict, num_items_in_batch=None):
    """(loss, outputs) for a causal LM batch with ``labels`` (-100 where nothing is learned)."""
    import torch
    import torch.nn.functional as F

    inputs = dict(inputs)
    labels = inputs.pop("labels")
    target = labels[:, 1:]
    keep = (target != -100).any(dim=0).nonzero().squeeze(-1)  # position p predicts token p + 1
    if keep.numel() == 0:
        keep = torch.zeros(1, dtype=torch.long, device=labels.device)
    outputs = model(**inputs, logits_to_keep=keep)
    logits = outputs.logits.float()
    picked = target[:, keep]
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), picked.reshape(-1).to(logits.device),
                           ignore_index=-100, reduction="sum")
    if num_items_in_batch is None:
        count = (picked != -100).sum()
        loss = loss / count.clamp(min=1)
    else:
        if isinstance(num_items_in_batch, torch.Tensor):
            num_items_in_batch = num_items_in_batch.to(loss.device)
        loss = loss / num_items_in_batch
    return loss, outputs

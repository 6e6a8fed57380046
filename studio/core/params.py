"""Parameter counts of a model, total and trainable."""

from __future__ import annotations


def count_parameters(model) -> tuple[int, int]:
    """(total, trainable); a 4-bit weight (bitsandbytes ``Params4bit``) packs two values per stored element."""
    total = trainable = 0
    for p in model.parameters():
        n = p.numel() * (2 if p.__class__.__name__ == "Params4bit" else 1)
        total += n
        if p.requires_grad:
            trainable += n
    return total, trainable

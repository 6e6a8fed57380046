"""The chat task's model: a causal LM prepared for full, LoRA or QLoRA training, and its batches."""

from __future__ import annotations

from studio.core import models
from studio.core.config import StudioConfig
from studio.core.loading import load_for_training as _load


def load_for_training(config: StudioConfig, hw):
    """The base causal LM prepared for ``config.method`` (see ``studio.core.loading``)."""
    src, trc = config.model.source, config.model.trust_remote_code
    return _load(config, hw, lambda **kw: models.load_causal_lm(src, trc, **kw), "CAUSAL_LM")


def make_collator(tokenizer, hw, packed: bool = False, flash_kwargs: bool = False):
    """Pads each batch to its longest example; padded labels are -100 (not learned). ``packed``: lays the batch's
    examples end to end in one row instead (padding-free), positions restarting at each example so that attention
    keeps them apart; ``flash_kwargs`` adds the example boundaries FlashAttention's variable-length kernels take."""
    from transformers import DataCollatorForSeq2Seq, DataCollatorWithFlattening

    if packed:
        return DataCollatorWithFlattening(return_position_ids=True, separator_id=-100,
                                          return_flash_attn_kwargs=flash_kwargs)

    return DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=-100,
                                  pad_to_multiple_of=8 if hw.device == "cuda" else None, return_tensors="pt")

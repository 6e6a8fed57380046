"""Sequence-to-sequence tuning of an encoder-decoder model (T5, Flan-T5, BART, ...): what the trainer gets."""

from __future__ import annotations

from studio.core import models
from studio.core.config import StudioConfig
from studio.core.loading import load_for_training
from studio.core.params import count_parameters
from studio.core.setup import TaskSetup
from studio.core.errors import StudioError
from studio.tasks.seq2seq.encode import encode_records


def check_model(source: str, trust_remote_code: bool = False) -> None:
    """A StudioError unless ``source`` is an encoder-decoder model."""
    cfg = models.load_config(source, trust_remote_code)
    if not getattr(cfg, "is_encoder_decoder", False):
        raise StudioError(f"model.source: {source} is a {cfg.model_type} model, not an encoder-decoder one; the "
                          "seq2seq task trains models such as T5 or Flan-T5 (use task: chat for this model)")


def linear_names(source: str, trust_remote_code: bool = False) -> list[str]:
    """The short names of the model's linear layers (LoRA targets), from its config alone (no weights)."""
    import torch
    from transformers import AutoModelForSeq2SeqLM

    with torch.device("meta"):
        model = AutoModelForSeq2SeqLM.from_config(models.load_config(source, trust_remote_code))
    names = {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    return sorted(names - {"lm_head"})


def load_model(config: StudioConfig, hw):
    """The base encoder-decoder model prepared for ``config.method`` (see ``studio.core.loading``)."""
    src, trc = config.model.source, config.model.trust_remote_code
    return load_for_training(config, hw, lambda **kw: models.load_seq2seq_lm(src, trc, **kw), "SEQ_2_SEQ_LM")


def make_collator(tokenizer, hw, model):
    """Pads sources and targets to the longest of the batch; padded labels are -100 (not learned). The decoder's
    inputs are the labels shifted right, made here (the loss is taken outside the model: ``target_loss``)."""
    from transformers import DataCollatorForSeq2Seq

    return DataCollatorForSeq2Seq(tokenizer, model=model, padding="longest", label_pad_token_id=-100,
                                  pad_to_multiple_of=8 if hw.device == "cuda" else None, return_tensors="pt")


def target_loss(outputs, labels, num_items_in_batch=None):
    """Cross-entropy over the target tokens in fp32 (the frozen base may be in bf16), summed and divided by the
    Trainer's count of target tokens in the whole accumulated batch (each token weighs the same)."""
    import torch.nn.functional as F

    logits = outputs.logits.float()
    labels = labels.to(logits.device)
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=-100, reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else (labels != -100).sum().clamp(min=1)
    return loss / (count.to(loss.device) if hasattr(count, "to") else count)


def setup_seq2seq(config: StudioConfig, hw, train_records: list, eval_records: list) -> TaskSetup:
    check_model(config.model.source, config.model.trust_remote_code)
    tokenizer = models.load_tokenizer(config.model.source, config.model.trust_remote_code)
    train, dropped = encode_records(tokenizer, train_records, config.data.max_length)
    evals, _ = encode_records(tokenizer, eval_records, config.data.max_length)
    if not train:
        raise StudioError(
            f"none of the {len(train_records)} training records has a prompt and an answer; the seq2seq task "
            "learns from instruction, chat or prompt/completion data (plain text has no answer to learn)")
    model = load_model(config, hw)
    total, trainable = count_parameters(model)
    info = {
        "parameters": total,
        "trainable_parameters": trainable,
        "dropped_no_answer": dropped,
        "source_target_pairs": len(train),
        "real_tokens": sum(len(e["input_ids"]) + len(e["labels"]) for e in train),
        "trained_tokens": sum(len(e["labels"]) for e in train),
    }
    return TaskSetup(model, tokenizer, train, evals, make_collator(tokenizer, hw, model), info, loss_func=target_loss,
                     length_sorted_batches=True)

"""Chat / instruction / completion / plain-text tuning of a causal language model: what the trainer gets."""

from __future__ import annotations

from studio.core import models
from studio.core.config import StudioConfig
from studio.core.attention import plan_for
from studio.core.chat_template import ensure_chat_template
from studio.core.params import count_parameters
from studio.core.setup import TaskSetup
from studio.core.trained_positions import supports
from studio.core.errors import StudioError
from studio.tasks.chat.encode import encode_records
from studio.tasks.chat.model import load_for_training, make_collator


def setup_chat(config: StudioConfig, hw, train_records: list, eval_records: list) -> TaskSetup:
    if getattr(models.load_config(config.model.source, config.model.trust_remote_code), "is_encoder_decoder", False):
        raise StudioError(f"model.source: {config.model.source} is an encoder-decoder (sequence-to-sequence) model "
                          "such as T5; the chat task trains causal models: use task: seq2seq for it")
    tokenizer = models.load_tokenizer(config.model.source, config.model.trust_remote_code)
    own_template = ensure_chat_template(tokenizer)
    train, dropped = encode_records(tokenizer, train_records, config.data.max_length, config.data.train_on_prompt)
    evals, _ = encode_records(tokenizer, eval_records, config.data.max_length, config.data.train_on_prompt)
    if not train:
        raise StudioError(
            f"none of the {len(train_records)} training records has an answer left to learn from within "
            f"data.max_length={config.data.max_length}; raise max length or check the data's answers"
        )
    model = load_for_training(config, hw)
    total, trainable = count_parameters(model)
    info = {
        "parameters": total,
        "trainable_parameters": trainable,
        "chat_template": "model" if own_template else "fallback",
        "dropped_no_answer_in_length": dropped,
        "real_tokens": sum(len(e["input_ids"]) for e in train),
        "trained_tokens": sum(sum(1 for x in e["labels"] if x != -100) for e in train),
    }
    # with prompts learned too there is nothing to leave out; Liger's fused loss never builds the logits at all
    sliced = supports(model) and not config.data.train_on_prompt and not config.train.liger_kernels
    info["loss_at_trained_positions"] = sliced
    attention = plan_for(config, hw)
    collator = make_collator(tokenizer, hw, attention.packing, attention.implementation == "flash_attention_2")
    return TaskSetup(model, tokenizer, train, evals, collator, info, length_sorted_batches=True,
                     loss_at_trained_positions=sliced, attention=attention)

"""Chat / instruction / completion / plain-text tuning of a causal language model (full, LoRA, QLoRA)."""

from __future__ import annotations

from studio import models
from studio.config import StudioConfig
from studio.errors import StudioError
from studio.tokenize import encode_records, ensure_chat_template


def load_for_training(config: StudioConfig, hw):
    """The base model prepared for the chosen method, and the count of weights that will train."""
    import torch

    src, trc = config.model.source, config.model.trust_remote_code
    if config.method == "qlora":
        from transformers import BitsAndBytesConfig

        compute = hw.torch_dtype if hw.device == "cuda" else torch.float32
        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                   bnb_4bit_compute_dtype=compute)
        model = models.load_causal_lm(src, trc, dtype=compute, quantization_config=quant,
                                      device_map={"": 0} if hw.device == "cuda" else {"": "cpu"})
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.train.gradient_checkpointing)
    elif config.method == "lora" and hw.device == "cuda":
        model = models.load_causal_lm(src, trc, dtype=hw.torch_dtype)  # frozen base in half precision
    else:
        model = models.load_causal_lm(src, trc, dtype=torch.float32)
    model.config.use_cache = False
    if config.method in ("lora", "qlora"):
        model = attach_lora(model, config)
    if config.train.gradient_checkpointing and config.method != "qlora":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if config.method == "lora":
            model.enable_input_require_grads()
    return model


def attach_lora(model, config: StudioConfig):
    from peft import LoraConfig, TaskType, get_peft_model

    targets = config.lora.target_modules or ["all-linear"]
    target = "all-linear" if targets == ["all-linear"] else targets
    lcfg = LoraConfig(r=config.lora.r, lora_alpha=config.lora.alpha, lora_dropout=config.lora.dropout,
                      target_modules=target, task_type=TaskType.CAUSAL_LM, bias="none")
    try:
        return get_peft_model(model, lcfg)
    except ValueError as err:
        raise StudioError(f"lora.target_modules: {str(err).splitlines()[0]}; use all-linear or names of the model's linear layers") from err


def count_parameters(model) -> tuple[int, int]:
    total = trainable = 0
    for p in model.parameters():
        n = p.numel() * (2 if p.__class__.__name__ == "Params4bit" else 1)
        total += n
        if p.requires_grad:
            trainable += n
    return total, trainable


def make_collator(tokenizer, hw):
    from transformers import DataCollatorForSeq2Seq

    return DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=-100,
                                  pad_to_multiple_of=8 if hw.device == "cuda" else None, return_tensors="pt")


def setup_chat(config: StudioConfig, hw, train_records: list, eval_records: list):
    from studio.train import TaskSetup

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
    return TaskSetup(model, tokenizer, train, evals, make_collator(tokenizer, hw), info)

"""Exporting a chat run: the adapter merged into its base, and the Python that loads an export."""

from __future__ import annotations

from studio.core import models


def merged_model(folder, config):
    """(merged model, tokenizer, base model config): the run's LoRA adapter merged into a fp32 copy of its base."""
    import torch
    from peft import PeftModel

    trc = config.model.trust_remote_code
    base = models.load_causal_lm(config.model.source, trc, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, str(folder.model_dir)).merge_and_unload()
    return merged, models.load_tokenizer(str(folder.model_dir), trc), base.config


def load_snippet(kind: str, path: str) -> str:
    if kind == "adapter":
        return ("from peft import AutoPeftModelForCausalLM\nfrom transformers import AutoTokenizer\n"
                f"model = AutoPeftModelForCausalLM.from_pretrained({path!r})\n"
                f"tokenizer = AutoTokenizer.from_pretrained({path!r})")
    return ("from transformers import AutoModelForCausalLM, AutoTokenizer\n"
            f"model = AutoModelForCausalLM.from_pretrained({path!r})\n"
            f"tokenizer = AutoTokenizer.from_pretrained({path!r})\n"
            "messages = [{\"role\": \"user\", \"content\": \"Hello!\"}]\n"
            "inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors=\"pt\", return_dict=True)\n"
            "out = model.generate(**inputs, max_new_tokens=64, do_sample=False)\n"
            "print(tokenizer.decode(out[0, inputs[\"input_ids\"].shape[1]:], skip_special_tokens=True))")


def check_prompts(config, limit: int) -> list[list[dict]]:
    """The prompts of held-out examples (the eval file, or the split training held out), as chat messages."""
    from studio.core.splits import held_out_records
    from studio.tasks.chat.evaluate import refuse_format, split_prompt

    records, _, _ = held_out_records(config, None, limit, refuse=refuse_format)
    return [pair[0] for pair in map(split_prompt, records) if pair is not None]


def system_prompt(config) -> str | None:
    """The system message most of the training examples carry (None when they carry none)."""
    from collections import Counter

    from studio.core.chat_template import messages_of
    from studio.core.splits import load_splits

    train, _, _ = load_splits(config)
    found = Counter()
    for record in train:
        msgs = messages_of(record) or []
        if msgs and msgs[0]["role"] == "system":
            found[msgs[0]["content"]] += 1
    if not found:
        return None
    text, count = found.most_common(1)[0]
    return text if count * 2 >= len(train) else None

"""Exporting a chat run: the adapter merged into its base, and the Python that loads an export."""

from __future__ import annotations

from studio import models


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

"""Exporting a seq2seq run: the adapter merged into its base, and the Python that loads an export."""

from __future__ import annotations

from studio.core import models


def merged_model(folder, config):
    """(merged model, tokenizer, base model config): the run's LoRA adapter merged into a fp32 copy of its base."""
    import torch
    from peft import PeftModel

    trc = config.model.trust_remote_code
    base = models.load_seq2seq_lm(config.model.source, trc, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, str(folder.model_dir)).merge_and_unload()
    return merged, models.load_tokenizer(str(folder.model_dir), trc), base.config


def load_snippet(kind: str, path: str) -> str:
    if kind == "adapter":
        head = ("from peft import AutoPeftModelForSeq2SeqLM\nfrom transformers import AutoTokenizer\n"
                f"model = AutoPeftModelForSeq2SeqLM.from_pretrained({path!r})\n")
    else:
        head = ("from transformers import AutoModelForSeq2SeqLM, AutoTokenizer\n"
                f"model = AutoModelForSeq2SeqLM.from_pretrained({path!r})\n")
    return (head + f"tokenizer = AutoTokenizer.from_pretrained({path!r})\n"
            "inputs = tokenizer(\"Translate to German: Good morning!\", return_tensors=\"pt\")\n"
            "out = model.generate(**inputs, max_new_tokens=64, do_sample=False)\n"
            "print(tokenizer.decode(out[0], skip_special_tokens=True))")

"""Exporting a vision run: the adapter merged into its base, and the Python that loads an export."""

from __future__ import annotations


def merged_model(folder, config):
    """(merged model, processor, base model config): the run's LoRA adapter merged into a fp32 copy of its base."""
    import torch
    from peft import PeftModel

    from studio.tasks.vision.model import load_model, load_processor

    base = load_model(config.model.source, config.model.trust_remote_code, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, str(folder.model_dir)).merge_and_unload()
    return merged, load_processor(str(folder.model_dir), config.model.trust_remote_code), base.config


def load_snippet(kind: str, path: str) -> str:
    if kind == "adapter":
        load = ("from peft import PeftModel\nfrom transformers import AutoModelForImageTextToText, AutoProcessor\n"
                f"processor = AutoProcessor.from_pretrained({path!r})\n"
                "base = AutoModelForImageTextToText.from_pretrained(BASE_MODEL)  # the base named in adapter_config.json\n"
                f"model = PeftModel.from_pretrained(base, {path!r})\n")
    else:
        load = ("from transformers import AutoModelForImageTextToText, AutoProcessor\n"
                f"model = AutoModelForImageTextToText.from_pretrained({path!r})\n"
                f"processor = AutoProcessor.from_pretrained({path!r})\n")
    return (load + "from PIL import Image\n"
            "messages = [{\"role\": \"user\", \"content\": [{\"type\": \"image\"}, {\"type\": \"text\", \"text\": \"What is in the picture?\"}]}]\n"
            "text = processor.apply_chat_template(messages, add_generation_prompt=True)\n"
            "inputs = processor(text=[text], images=[Image.open(\"photo.jpg\").convert(\"RGB\")], return_tensors=\"pt\")\n"
            "out = model.generate(**inputs, max_new_tokens=64, do_sample=False)\n"
            "print(processor.decode(out[0, inputs[\"input_ids\"].shape[1]:], skip_special_tokens=True))")

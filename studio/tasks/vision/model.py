"""The vision task's model: any image-text-to-text model transformers knows (``AutoModelForImageTextToText``:
SmolVLM/Idefics3, Qwen2-VL and Qwen2.5-VL, LLaVA, Gemma 3, ...) with its processor, found from the model's config.

The vision side (the image encoder and the projector into the language model) stays frozen unless
``vision.train_encoder`` is on: LoRA then targets only the language model's linear layers, and full fine-tuning
leaves the vision weights as they are. Turned on, LoRA covers every linear layer and full training updates all.
"""

from __future__ import annotations

from studio.core import models
from studio.core.errors import StudioError

KNOWN = "SmolVLM, Idefics3, Qwen2-VL, Qwen2.5-VL, LLaVA or Gemma 3"


def is_vision_model_type(model_type: str) -> bool:
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    return model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES


def check_model(source: str, trust_remote_code: bool = False) -> None:
    """A StudioError unless ``source`` is an image-text-to-text model."""
    cfg = models.load_config(source, trust_remote_code)
    if not is_vision_model_type(cfg.model_type):
        raise StudioError(f"model.source: {source} is a {cfg.model_type} model, which reads text only; the vision task "
                          f"trains models that see images ({KNOWN}); use task: chat for text models")


def load_model(source: str, trust_remote_code: bool = False, **kwargs):
    """The base model as ``AutoModelForImageTextToText``; ``kwargs`` go to ``from_pretrained``."""
    from transformers import AutoModelForImageTextToText

    path = models.resolve(source).path
    try:
        return AutoModelForImageTextToText.from_pretrained(path, trust_remote_code=trust_remote_code, **kwargs)
    except OSError as err:
        raise StudioError(f"model.source: {source} cannot be loaded ({str(err).splitlines()[0]})") from err
    except ValueError as err:
        raise StudioError(f"model.source: {source} cannot be loaded as an image-text-to-text model: "
                          f"{str(err).splitlines()[0]}") from err


def load_processor(source: str, trust_remote_code: bool = False):
    """The model's processor (image processor and tokenizer, with its chat template)."""
    from pathlib import Path

    from transformers import AutoProcessor

    folder = Path(source).expanduser()
    path = str(folder) if folder.is_dir() else models.resolve(source).path
    try:
        proc = AutoProcessor.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as err:
        raise StudioError(f"model.source: {source} has no usable processor ({str(err).splitlines()[0]})") from err
    tok = getattr(proc, "tokenizer", None)
    if tok is None or not hasattr(proc, "image_processor"):
        raise StudioError(f"model.source: {source} has no image processor; the vision task needs a model that "
                          f"sees images ({KNOWN})")
    if not getattr(proc, "chat_template", None):
        raise StudioError(f"model.source: {source} has no chat template in its processor; use an instruct/chat "
                          "version of the model")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return proc


def language_module_names(model) -> set[str]:
    """Names of the modules that belong to the language model (the decoder)."""
    decoder = model.get_decoder()
    inside = {id(m) for m in decoder.modules()}
    return {name for name, m in model.named_modules() if id(m) in inside}


def lora_targets(model, vision: bool) -> list[str]:
    """Full names of the linear layers LoRA adapts: the language model's, or every one (``vision``); never the
    output layer."""
    import torch

    language = language_module_names(model)
    out = []
    for name, m in model.named_modules():
        if not isinstance(m, torch.nn.Linear) or name.split(".")[-1] in ("lm_head", "output"):
            continue
        if vision or name in language:
            out.append(name)
    return out


def freeze_vision(model) -> int:
    """Stop the vision side (everything outside the language model and its output layer) from training; returns
    how many parameters were frozen."""
    language = language_module_names(model)
    head = model.get_output_embeddings()
    keep = {id(p) for p in head.parameters()} if head is not None else set()
    for name, m in model.named_modules():
        if name in language:
            keep.update(id(p) for p in m.parameters(recurse=False))
    frozen = 0
    for p in model.parameters():
        if id(p) not in keep and p.requires_grad:
            p.requires_grad_(False)
            frozen += p.numel()
    return frozen


def vision_linear_names(source: str, trust_remote_code: bool = False) -> list[str]:
    """Full names of the linear layers outside the language model (the vision side), from the config alone."""
    import torch
    from transformers import AutoModelForImageTextToText

    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(models.load_config(source, trust_remote_code),
                                                        trust_remote_code=trust_remote_code)
    language = language_module_names(model)
    return [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and n not in language]


def load_for_training(config, hw):
    """The base model prepared for ``config.method`` (``studio.core.loading``), vision frozen as the config says.
    QLoRA quantizes the language model only: the vision side stays in its precision (small, and sensitive)."""
    from studio.core.loading import load_for_training as _load

    src, trc = config.model.source, config.model.trust_remote_code
    vision = bool(config.vision.train_encoder)

    def load(**kw):
        quant = kw.get("quantization_config")
        if quant is not None:
            quant.llm_int8_skip_modules = ["lm_head", *vision_linear_names(src, trc)]
        return load_model(src, trc, **kw)

    model = _load(config, hw, load, "CAUSAL_LM", all_linear=lambda m: lora_targets(m, vision))
    if config.method == "full" and not vision:
        freeze_vision(model)
    return model

"""The base model prepared for training, written once for every task: full, LoRA or QLoRA, dtype and device.

A task says how to load its base (``load(dtype=..., quantization_config=..., device_map=...)``: a causal LM,
a model with a classification head, ...) and which PEFT task type its adapter has; everything about the
method is decided here:

- ``full``   every weight trains, in fp32 (mixed precision on a GPU comes from the Trainer's bf16/fp16);
- ``lora``   the frozen base in the device's half precision on a GPU, in bf16 on a CPU with bf16 units (fp32
            on others), adapters in fp32;
- ``qlora``  the base quantized to 4-bit NF4 by bitsandbytes, adapters in fp32.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from studio.core.config import StudioConfig
from studio.core.attention import plan_for
from studio.core.hardware import frozen_dtype
from studio.core.errors import StudioError

Loader = Callable[..., Any]  # load(dtype=..., quantization_config=None, device_map=None) -> model


def load_for_training(config: StudioConfig, hw, load: Loader, task_type: str = "CAUSAL_LM",
                      all_linear: list[str] | None = None, modules_to_save: list[str] | Callable | None = None):
    """The base model for ``config.method``, with LoRA attached when the method uses it.

    ``all_linear``: what ``lora.target_modules: all-linear`` means for this task (default: PEFT's own
    "all-linear"); a callable ``all_linear(model)`` is asked once the model is loaded. ``modules_to_save``:
    new task-specific modules (a classification head) that train in full next to the adapter, or a callable
    ``modules_to_save(model)``.
    """
    import torch

    attention = {}  # a causal LM loads with the attention its plan names (a per-length plan switches per batch)
    if task_type == "CAUSAL_LM":
        impl = plan_for(config, hw).implementation
        if impl != "by_length":
            attention["attn_implementation"] = impl
    if config.method == "qlora":
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        compute = hw.torch_dtype if hw.device == "cuda" else torch.float32
        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                   bnb_4bit_compute_dtype=compute)
        model = load(dtype=compute, quantization_config=quant,
                     device_map={"": int(os.environ.get("LOCAL_RANK", "0"))} if hw.device == "cuda" else {"": "cpu"},
                     **attention)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.train.gradient_checkpointing == "on")
    else:  # LoRA: the frozen base in half precision where it pays (studio.core.hardware.frozen_dtype)
        model = load(dtype=frozen_dtype(hw, config.method, task_type), **attention)
    if hasattr(model.config, "use_cache"):
        model.config.use_cache = False
    if config.method in ("lora", "qlora"):
        targets = all_linear(model) if callable(all_linear) else all_linear
        keep = modules_to_save(model) if callable(modules_to_save) else modules_to_save
        model = attach_lora(model, config, task_type, targets, keep)
    if config.train.gradient_checkpointing == "on" and config.method != "qlora" and getattr(model, "supports_gradient_checkpointing", True):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if config.method == "lora":
            model.enable_input_require_grads()
    return model


def attach_lora(model, config: StudioConfig, task_type: str = "CAUSAL_LM", all_linear: list[str] | None = None,
                modules_to_save: list[str] | None = None):
    """Wrap ``model`` with a LoRA adapter as ``config.lora`` says; trained weights are kept in fp32."""
    import torch
    from peft import LoraConfig, TaskType, get_peft_model

    targets = config.lora.target_modules or ["all-linear"]
    if targets == ["all-linear"]:
        target = all_linear if all_linear is not None else "all-linear"
    else:
        target = targets
    lcfg = LoraConfig(r=config.lora.r, lora_alpha=config.lora.alpha, lora_dropout=config.lora.dropout,
                      target_modules=target, task_type=getattr(TaskType, task_type), modules_to_save=modules_to_save,
                      bias="none")
    try:
        model = get_peft_model(model, lcfg)
    except ValueError as err:
        raise StudioError(f"lora.target_modules: {str(err).splitlines()[0]}; use all-linear or names of the model's linear layers") from err
    for p in model.parameters():  # trained weights in fp32, also when the frozen base is in half precision
        if p.requires_grad and p.dtype != torch.float32:
            p.data = p.data.float()
    return model

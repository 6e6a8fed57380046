"""How a run computes attention, and whether its batches are padding-free: chosen per device and length.

``train.attention: auto`` decides by what was measured (``benchmarks/bench_attention.py`` measures it again on
any machine):

- on a CUDA GPU, FlashAttention 2 where the ``flash_attn`` package is installed and the run computes in bf16 or
  fp16, else PyTorch's SDPA (which has flash and memory-efficient kernels of its own);
- on a CPU computing in bf16, per batch by its length: transformers' plain "eager" attention for batches up to
  ``CPU_EAGER_UP_TO`` tokens long and SDPA above. One LoRA step of the embedded SmolLM2 (bf16 frozen weights,
  2 cores, 1024 tokens a batch) ran eager at 1.11x / 1.13x / 1.04x / 1.06x SDPA's tokens/s at 64 / 128 / 256 /
  512 tokens, and at 0.90x / 0.43x at 1024 / 2048, where eager's full score matrix costs more than it saves;
- on a CPU in fp32, SDPA: there eager was no faster at any length (0.95x at 128 tokens, 0.97x at 512, 0.78x at
  1024).

``train.packing`` (padding-free batches: a batch's examples laid end to end in one row, positions restarting
at each example, attention kept inside each example): ``auto`` packs where the attention handles such rows
natively (FlashAttention 2's variable-length kernels), since with SDPA or eager transformers builds a mask over
the whole row: the same loss, but measured on the CPU at 0.74x (SDPA) and 0.55x (eager) the tokens/s of
length-bucketed padded batches of the shipped chat samples. ``on`` packs anyway, ``off`` never does.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

ATTENTION_CHOICES = ("auto", "sdpa", "eager", "flash_attention_2")
PACKING_CHOICES = ("auto", "on", "off")
CPU_EAGER_UP_TO = 512  # tokens: eager attention is faster on a CPU up to this batch length (see above)


def flash_attention_installed() -> bool:
    return importlib.util.find_spec("flash_attn") is not None


@dataclass
class AttentionPlan:
    """The attention implementation of a run: one for every batch, or (CPU auto) one per batch length."""

    implementation: str  # sdpa | eager | flash_attention_2 | by_length
    reason: str
    packing: bool = False
    packing_reason: str = ""

    def for_length(self, tokens: int) -> str:
        if self.implementation != "by_length":
            return self.implementation
        return "eager" if tokens <= CPU_EAGER_UP_TO else "sdpa"

    def apply(self, model, tokens: int) -> None:
        """Make ``model`` (a PEFT model or a plain one) compute its next forward with the implementation for a
        batch ``tokens`` long. transformers looks the implementation up on every forward, so this is cheap."""
        config = _config(model)
        impl = self.for_length(tokens)
        if config is not None and getattr(config, "_attn_implementation", None) != impl:
            config._attn_implementation = impl

    def to_event(self) -> dict:
        name = (f"eager up to {CPU_EAGER_UP_TO} tokens, sdpa above" if self.implementation == "by_length"
                else self.implementation)
        return {"attention": name, "attention_reason": self.reason, "packing": self.packing,
                "packing_reason": self.packing_reason}


def plan(requested: str, packing: str, device: str, precision: str) -> AttentionPlan:
    """The plan for ``train.attention`` and ``train.packing`` on ``device`` (cuda | cpu | mps) computing in
    ``precision``."""
    half = precision in ("bf16", "fp16")
    if requested == "auto":
        if device == "cuda" and half and flash_attention_installed():
            impl, why = "flash_attention_2", "FlashAttention 2 is installed and the run computes in " + precision
        elif device == "cuda":
            impl, why = "sdpa", ("PyTorch SDPA (FlashAttention 2 is not installed)" if half
                                 else "PyTorch SDPA (FlashAttention 2 needs bf16 or fp16)")
        elif device == "cpu" and precision == "bf16":
            impl, why = "by_length", (f"measured on CPUs in bf16: eager is faster for batches up to "
                                      f"{CPU_EAGER_UP_TO} tokens, SDPA for longer ones")
        elif device == "cpu":
            impl, why = "sdpa", "PyTorch SDPA (measured on CPUs in fp32: as fast as eager or faster at every length)"
        else:
            impl, why = "sdpa", "PyTorch SDPA"
    else:
        impl, why = requested, f"{requested}, as the config asks"
    if packing == "on":
        packed, pwhy = True, "padding-free batches, as the config asks"
    elif packing == "off":
        packed, pwhy = False, "padded batches, as the config asks"
    elif impl == "flash_attention_2":
        packed, pwhy = True, "padding-free batches: FlashAttention 2 keeps each example apart without a mask"
    else:
        packed, pwhy = False, ("padded, length-bucketed batches: with this attention a packed row costs a mask "
                               "over the whole row (measured slower)")
    return AttentionPlan(impl, why, packed, pwhy)


def plan_for(config, hw) -> AttentionPlan:
    """The plan of a run (a ``StudioConfig``) on its hardware (``studio.core.hardware.Hardware``). A compiled model
    keeps one implementation (switching would compile it again): the one for the run's longest batches."""
    chosen = plan(config.train.attention, config.train.packing, hw.device, hw.precision)
    if config.train.compile and chosen.implementation == "by_length":
        longest = config.train.batch_size * config.data.max_length if chosen.packing else config.data.max_length
        impl = chosen.for_length(longest)
        chosen.implementation, chosen.reason = impl, f"{impl} for every batch: a compiled model keeps one"
    return chosen


def _config(model):
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return getattr(base, "config", None)

"""Memory and time estimates for a run, before it starts.

Rough on purpose (expect +-30%): enough to say "this will not fit, lower the batch size" or "this takes
about four minutes" before anyone waits for an out-of-memory error. No torch at import time; a GPU is
looked for only when the machine has an NVIDIA driver.

Memory = weights + gradients + optimizer state + activations + runtime overhead:
- weights: fp32 4 bytes a weight, bf16/fp16 2, 4-bit NF4 about 0.53 (embeddings stay in 16 bit).
  Full fine-tuning keeps fp32 master weights (the trainer loads it in fp32, mixed precision on a GPU);
  LoRA keeps a frozen base in the compute precision plus small fp32 adapters.
- gradients: 4 bytes per trained weight; optimizer: AdamW's two fp32 moments, 8 bytes per trained weight.
- activations: per token and layer about (8 x hidden + 4 x intermediate) values kept for the backward
  pass, plus the logits (3 copies of vocab-sized rows); gradient checkpointing keeps one value per
  hidden unit per layer and recomputes the rest.

Time per step = floating-point work / throughput + optimizer + fixed overhead, with work = 2 x weights x
tokens for the forward pass, as much again for the backward pass through the activations, and again for
weight gradients when every weight trains (full: 6 x P x T, LoRA: 4 x P x T; +2 x P x T when
checkpointing). The CPU throughput is calibrated on SmolLM2-135M, LoRA, batch 8 x ~52 tokens on two
cores: 1.9 s a step; full fine-tuning of it measured 3.6 s a step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from studio.core.hardware import Device, cpu_cores, detect_device  # noqa: F401 - the estimate's device, re-exported
from studio.core.splits import planned_steps

GB = 1024**3

# Measured: 2 cores, fp32, SmolLM2-135M LoRA at 416 tokens a step = 1.9 s, of which ~0.1 s is fixed.
CPU_FLOPS_PER_CORE = 4 * 134_515_008 * 416 / (1.9 - 0.1) / 2
CPU_STEP_OVERHEAD_S = 0.1
CPU_MEMORY_BANDWIDTH = 10e9  # bytes/s the optimizer streams through on a small machine
CPU_BF16_SPEEDUP = 1.5  # LoRA steps with bf16 frozen weights on a CPU with bf16 units (measured: 1.52x)
CPU_RUNTIME_OVERHEAD = 1.1 * GB  # Python, torch, transformers, peft, tokenizer, data: measured ~2.4 GB peak total

# Dense bf16 throughput a training step reaches in practice (about a third of the data-sheet peak).
GPU_FLOPS = {
    "h200": 350e12, "h100": 330e12, "gh200": 350e12, "b200": 700e12, "a100": 105e12, "a800": 105e12,
    "l40": 110e12, "a6000": 50e12, "a10": 40e12, "l4": 35e12, "4090": 55e12, "3090": 25e12, "t4": 15e12,
    "v100": 35e12,
}
GPU_DEFAULT_FLOPS = 40e12
GPU_RUNTIME_OVERHEAD = 0.8 * GB  # CUDA context, allocator fragmentation, kernels' workspaces
GPU_STEP_OVERHEAD_S = 0.03
GPU_LAYER_OVERHEAD_S = 0.0015  # kernel launches dominate small models: per layer, forward + backward


@dataclass
class ModelShape:
    """What the estimates need to know about a model (all from its config; no weights loaded)."""

    parameters: int
    layers: int = 0
    hidden_size: int = 0
    vocab_size: int = 0
    intermediate_size: int = 0
    kv_size: int = 0  # the width of the key and value projections: smaller than hidden_size with grouped-query attention

    def __post_init__(self):
        p = max(int(self.parameters or 0), 1)
        self.parameters = p
        if not self.hidden_size:  # a typical aspect ratio: params ~ 12 x layers x hidden^2
            self.hidden_size = int(max(64, round((p / 12 / max(self.layers or 24, 1)) ** 0.5 / 64) * 64))
        if not self.layers:
            self.layers = max(1, round(p / (12 * self.hidden_size**2)))
        if not self.vocab_size:
            self.vocab_size = 32000
        if not self.intermediate_size:
            per_layer = max(self.block_parameters / self.layers - 4 * self.hidden_size**2, self.hidden_size**2)
            self.intermediate_size = int(per_layer / (3 * self.hidden_size))
        if not self.kv_size:
            self.kv_size = self.hidden_size

    @property
    def embedding_parameters(self) -> int:
        return min(self.vocab_size * self.hidden_size, self.parameters // 2)

    @property
    def block_parameters(self) -> int:
        return max(self.parameters - self.embedding_parameters, 1)

    @classmethod
    def from_describe(cls, info: dict) -> "ModelShape":
        """From ``studio.core.models.describe(source)``."""
        return cls(
            parameters=int(info.get("parameters") or 0),
            layers=int(info.get("layers") or 0),
            hidden_size=int(info.get("hidden_size") or 0),
            vocab_size=int(info.get("vocab_size") or 0),
            intermediate_size=int(info.get("intermediate_size") or 0),
            kv_size=int(info.get("kv_size") or 0),
        )


@dataclass
class Estimate:
    method: str
    precision: str
    device: str
    weights: int
    gradients: int
    optimizer: int
    activations: int
    overhead: int
    trainable_parameters: int
    step_seconds: float
    steps: int
    total_seconds: float
    available_bytes: int
    fits: str  # yes | tight | no
    warnings: list[str] = field(default_factory=list)
    precision_reason: str = ""  # why this precision, in words

    @property
    def total_bytes(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations + self.overhead

    def to_dict(self) -> dict:
        d = asdict(self)
        d["total_bytes"] = self.total_bytes
        return d

    def rows(self) -> list[list[str]]:
        """A table for people: part, size."""
        return [
            ["Weights", fmt_bytes(self.weights)],
            ["Gradients", fmt_bytes(self.gradients)],
            ["Optimizer (AdamW)", fmt_bytes(self.optimizer)],
            ["Activations", fmt_bytes(self.activations)],
            ["Runtime overhead", fmt_bytes(self.overhead)],
            ["Total", fmt_bytes(self.total_bytes)],
            [f"Available ({self.device})", fmt_bytes(self.available_bytes)],
        ]

    def summary(self) -> str:
        verdict = {"yes": "fits", "tight": "tight: may not fit", "no": "will NOT fit"}[self.fits]
        return (f"{self.method} ({self.precision}) on {self.device}: about {fmt_bytes(self.total_bytes)} of "
                f"{fmt_bytes(self.available_bytes)} available, {verdict}; "
                f"~{fmt_seconds(self.step_seconds)} a step, ~{fmt_seconds(self.total_seconds)} for {self.steps} steps")


def fmt_bytes(n: float) -> str:
    n = float(n)
    for unit, size in (("GB", GB), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def fmt_seconds(s: float) -> str:
    s = float(s)
    if s < 10:
        return f"{s:.1f} s"
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


# ---- the machine --------------------------------------------------------------------------------
def gpu_flops(name: str) -> float:
    key = name.lower().replace(" ", "")
    for tag, flops in sorted(GPU_FLOPS.items(), key=lambda kv: -len(kv[0])):
        if tag in key:
            return flops
    return GPU_DEFAULT_FLOPS


def cpu_flops(cores: int) -> float:
    return CPU_FLOPS_PER_CORE * max(cores, 1) ** 0.9  # threads scale a little less than linearly


# ---- the estimate -------------------------------------------------------------------------------
_ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj", "query", "key", "value", "dense", "qkv_proj", "c_attn", "out_proj")
_KEY_VALUE = ("k_proj", "v_proj", "key", "value")  # hidden_size in, kv_size out


def lora_parameters(shape: ModelShape, r: int, target_modules: list[str] | None = None) -> int:
    """Adapter weights: r x (inputs + outputs) for every targeted linear layer."""
    h, i, kv = shape.hidden_size, shape.intermediate_size, shape.kv_size
    targets = list(target_modules or ["all-linear"])

    def width(t: str) -> int:
        if t in _KEY_VALUE or t.endswith(tuple("." + k for k in _KEY_VALUE)):
            return h + kv
        return 2 * h if any(a in t for a in _ATTENTION) else h + i

    if targets == ["all-linear"]:
        per_layer = 2 * 2 * h + 2 * (h + kv) + 3 * (h + i)
    else:
        per_layer = sum(width(t) for t in targets)
    return int(shape.layers * r * per_layer)


def weight_bytes(precision: str) -> float:
    return {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "4bit": 0.53}[precision]


def precision_and_reason(precision: str, device: Device, method: str = "lora") -> tuple[str, str]:
    """The precision a run computes in (as ``studio.core.hardware`` will choose it), and why, in words."""
    if device.kind != "cuda":
        if precision == "fp32" or (precision == "auto" and not device.bf16_units):
            return "fp32", "fp32: this CPU has no bf16 units" if precision == "auto" else "fp32, as asked"
        if method != "lora":
            return "fp32", "fp32: trained weights stay fp32 (bf16 on a CPU speeds up LoRA's frozen weights)"
        units = ", ".join(device.bf16_units) or "asked"
        return "bf16", f"bf16: this CPU has bf16 units ({units}), used for the frozen weights"
    if precision in ("fp32", "bf16", "fp16"):
        return precision, f"{precision}, as asked"
    name = device.name.lower()
    if any(old in name for old in ("t4", "v100", "p100", "1080", "2080")):
        return "fp16", "fp16: this GPU has no bf16"
    return "bf16", "bf16: the GPU supports it"


def estimate(
    shape: ModelShape,
    method: str = "lora",
    *,
    precision: str = "auto",
    batch_size: int = 8,
    seq_len: int = 128,
    grad_accum: int = 1,
    steps: int = 100,
    lora_r: int = 16,
    target_modules: list[str] | None = None,
    gradient_checkpointing: bool = False,
    device: Device | None = None,
    eval_tokens: int = 0,
    evals: int = 5,
    vocab_logits: bool = True,
) -> Estimate:
    """Memory and time for training ``shape`` with ``method``; ``seq_len`` is the typical padded length."""
    device = device or detect_device()
    cuda = device.kind == "cuda"
    compute, reason = precision_and_reason(precision, device, method)
    P, h, L, V = shape.parameters, shape.hidden_size, shape.layers, shape.vocab_size
    warnings: list[str] = []

    if method == "full":
        trainable = P
        weights = 4.0 * P  # fp32 master weights (mixed precision computes in bf16/fp16 on a GPU)
    elif method == "qlora":
        trainable = lora_parameters(shape, lora_r, target_modules)
        emb_bytes = 2.0 if cuda else 4.0
        weights = weight_bytes("4bit") * shape.block_parameters + emb_bytes * shape.embedding_parameters + 4.0 * trainable
        if not cuda:
            warnings.append("qlora on a CPU runs through bitsandbytes several times slower than lora; choose lora here")
    else:
        trainable = lora_parameters(shape, lora_r, target_modules)
        weights = weight_bytes(compute) * P + 4.0 * trainable
    gradients = 4.0 * trainable
    optimizer = 8.0 * trainable

    act_bytes = 2.0 if compute in ("bf16", "fp16") else 4.0
    tokens = max(1, batch_size) * max(1, seq_len)  # one micro-batch is in memory at a time
    per_token_layer = (8 * h + 4 * shape.intermediate_size) * act_bytes
    if gradient_checkpointing:
        activations = tokens * (L * h * act_bytes + per_token_layer)
    else:
        activations = tokens * L * per_token_layer
    if vocab_logits:  # a classifier's head has a few outputs, not a vocabulary
        activations += tokens * V * 4.0 * 3  # logits, their fp32 log-softmax and its gradient
    overhead = GPU_RUNTIME_OVERHEAD if cuda else CPU_RUNTIME_OVERHEAD

    # time
    step_tokens = tokens * max(1, grad_accum)
    passes = 6.0 if method == "full" else 4.0
    if gradient_checkpointing:
        passes += 2.0
    flops = passes * P * step_tokens
    if cuda:
        throughput = gpu_flops(device.name) * (0.5 if compute == "fp32" else 1.0)
        fixed = GPU_STEP_OVERHEAD_S + GPU_LAYER_OVERHEAD_S * L * max(1, grad_accum)
        bandwidth = 1.5e12
    else:
        throughput = cpu_flops(device.cores) * (CPU_BF16_SPEEDUP if compute == "bf16" else 1.0)
        fixed = CPU_STEP_OVERHEAD_S * max(1, grad_accum)
        bandwidth = CPU_MEMORY_BANDWIDTH
    if method == "qlora":
        throughput /= 1.3 if cuda else 4.0  # dequantizing the 4-bit weights on every pass
    optimizer_s = 32.0 * trainable / bandwidth  # AdamW reads and writes weights, gradients, two moments
    step_seconds = flops / throughput + optimizer_s + fixed
    load_seconds = 8.0 + weights / (2 * GB)
    eval_seconds = evals * 2.0 * P * max(eval_tokens, 0) / throughput
    total_seconds = load_seconds + steps * step_seconds + eval_seconds

    est = Estimate(
        method=method, precision=compute if method != "qlora" else f"4-bit + {compute}", device=device.name,
        weights=int(weights), gradients=int(gradients), optimizer=int(optimizer), activations=int(activations),
        overhead=int(overhead), trainable_parameters=int(trainable), step_seconds=round(step_seconds, 3),
        steps=int(steps), total_seconds=round(total_seconds, 1), available_bytes=int(device.available_bytes), fits="yes",
        warnings=warnings, precision_reason=reason,
    )
    need, have = est.total_bytes, device.available_bytes
    if need > have:
        est.fits = "no"
        est.warnings.insert(0, f"needs about {fmt_bytes(need)} but only {fmt_bytes(have)} is free: " + _memory_advice(method, batch_size, seq_len, gradient_checkpointing, cuda))
    elif need > 0.85 * have:
        est.fits = "tight"
        est.warnings.insert(0, f"needs about {fmt_bytes(need)} of {fmt_bytes(have)} free: close to the limit; " + _memory_advice(method, batch_size, seq_len, gradient_checkpointing, cuda))
    if method == "full" and not cuda and P > 1e9:
        est.warnings.append("full fine-tuning of a model this size on a CPU takes very long; use lora")
    return est


def _memory_advice(method: str, batch_size: int, seq_len: int, gc: bool, cuda: bool) -> str:
    tips = []
    if batch_size > 1:
        tips.append("lower the batch size (raise gradient accumulation to keep the effective batch)")
    if seq_len > 256:
        tips.append("lower max length")
    if not gc:
        tips.append("turn on gradient checkpointing")
    if method == "full":
        tips.append("use lora" + (" or qlora" if cuda else ""))
    elif method == "lora" and cuda:
        tips.append("use qlora")
    tips.append("or pick a smaller model")
    return "; ".join(tips)


def checkpointing_choice(config, shape: ModelShape, device: Device | None = None,
                         vocab_logits: bool = True) -> tuple[bool, str]:
    """Whether a run uses gradient checkpointing, and why in words. ``auto`` turns it on only when the estimate says
    the longest batch a run can meet (batch size x data.max_length tokens) would not fit comfortably without it."""
    tc = config.train
    if tc.gradient_checkpointing in ("on", "off"):
        return tc.gradient_checkpointing == "on", f"gradient checkpointing {tc.gradient_checkpointing}, as the config asks"
    device = device or detect_device()
    kw = dict(precision=tc.precision, batch_size=tc.batch_size, seq_len=config.data.max_length, lora_r=config.lora.r,
              target_modules=config.lora.target_modules, device=device, vocab_logits=vocab_logits)
    plain = estimate(shape, config.method, gradient_checkpointing=False, **kw)
    longest = f"{tc.batch_size} x {config.data.max_length} tokens"
    if plain.fits == "yes":
        return False, (f"gradient checkpointing off (auto): the longest batch ({longest}) needs about "
                       f"{fmt_bytes(plain.total_bytes)} of {fmt_bytes(device.available_bytes)} free")
    saved = estimate(shape, config.method, gradient_checkpointing=True, **kw)
    return True, (f"gradient checkpointing on (auto): the longest batch ({longest}) would need about "
                  f"{fmt_bytes(plain.total_bytes)} of {fmt_bytes(device.available_bytes)} free without it, "
                  f"about {fmt_bytes(saved.total_bytes)} with it")


def estimate_for_config(config, shape: ModelShape, *, n_train: int = 0, avg_tokens: float = 0.0,
                        device: Device | None = None, vocab_logits: bool = True) -> Estimate:
    """The estimate for a ``StudioConfig``: steps from the data size, tokens from the data when known.
    ``vocab_logits``: whether the task's model outputs a distribution over the vocabulary (the task says)."""
    tc = config.train
    device = device or detect_device()
    checkpointing, why = checkpointing_choice(config, shape, device, vocab_logits)
    seq = int(avg_tokens) if avg_tokens else min(config.data.max_length, 128)
    seq = max(8, min(seq, config.data.max_length))
    steps = planned_steps(config, n_train or 100, world=config.launch.processes * config.launch.nodes)
    n_eval = int(round((n_train or 100) * config.data.eval_fraction)) if not config.data.eval else max(n_train // 10, 1)
    e = estimate(
        shape, config.method, precision=tc.precision, batch_size=tc.batch_size, seq_len=seq,
        grad_accum=tc.grad_accum, steps=steps, lora_r=config.lora.r, target_modules=config.lora.target_modules,
        gradient_checkpointing=checkpointing, device=device, eval_tokens=n_eval * seq,
        vocab_logits=vocab_logits,
    )
    if checkpointing and tc.gradient_checkpointing == "auto":
        e.warnings.append(why)
    return e


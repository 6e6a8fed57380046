"""The one configuration of a run: model, task, method, data, training, LoRA, output folder.

Every field carries its label, bounds and help text in ``metadata`` so that the web UI builds its widgets
from here and the CLI's ``--set key=value`` and the YAML file in each run folder are views of the same thing.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from studio.core.attention import ATTENTION_CHOICES, PACKING_CHOICES
from studio.core.errors import StudioError

# The built-in tasks, for the docs and widgets; the task registry (studio.tasks) is what decides, and plug-in
# tasks join it, so ``task`` is checked there (studio.tasks.check), not against this list.
TASKS = ("chat", "classification")
# The built-in launchers, the same way: the launcher registry (studio.launchers) decides, plug-in launchers join it,
# and ``launch.backend`` is checked there (studio.launchers.check).
BACKENDS = ("local", "inline", "ray")
METHODS = ("full", "lora", "qlora")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")
CHECKPOINTING = ("auto", "on", "off")
STRATEGIES = ("ddp", "fsdp", "deepspeed")


def knob(default, label: str, help: str, *, min=None, max=None, step=None, choices=None, factory=None,  # noqa: A002
         open_choices=False):
    """A config field with what the UI and the docs need to know about it (``open_choices``: the choices are
    the usual values, not the only ones; something else checks the value)."""
    meta = {"label": label, "help": help, "min": min, "max": max, "step": step, "choices": choices,
            "open_choices": open_choices}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class ModelConfig:
    source: str = knob("smollm2", "Base model", "An embedded model (smollm2, minilm), a local folder in Hugging Face layout, a .gguf file, or a hub id like HuggingFaceTB/SmolLM2-360M-Instruct.")
    trust_remote_code: bool = knob(False, "Trust remote code", "Run Python code that ships with the model. Only turn on for models you trust.")


@dataclass
class DataConfig:
    train: str = knob("", "Training data", "A CSV, JSON, JSONL, Parquet or text file.")
    eval: str = knob("", "Evaluation data", "Held-out examples to measure progress on. Leave empty to split some off the training data.")
    eval_fraction: float = knob(0.1, "Eval share", "Share of the training data held out for evaluation when no eval file is given.", min=0.0, max=0.5, step=0.01)
    format: str = knob("auto", "Format", "How to read the records: auto, chat, sharegpt, alpaca, prompt_completion, text, classification, preference, feedback.", choices=("auto", "chat", "sharegpt", "alpaca", "prompt_completion", "text", "classification", "preference", "feedback"))
    columns: dict = knob(None, "Column mapping", "Which columns hold what, e.g. {text: review, label: sentiment}. Empty: detected from the file.", factory=dict)
    max_length: int = knob(512, "Max length (tokens)", "Longer examples are cut. Longer needs more memory and time.", min=16, max=32768, step=16)
    system_prompt: str = knob("", "System prompt", "A system message for every example that has none of its own (training, the tuned model's chat and its export). Empty: none added.")
    train_on_prompt: bool = knob(False, "Learn from prompts too", "Off: the model learns only from the assistant's answers (recommended). On: it also learns to write the prompts.")


@dataclass
class TrainConfig:
    epochs: float = knob(3.0, "Epochs", "How many times to go through the training data. More can overfit small data.", min=0.1, max=100.0, step=0.1)
    max_steps: int = knob(-1, "Max steps", "Stop after this many optimizer steps (-1: run all epochs).", min=-1, max=1_000_000, step=1)
    learning_rate: float = knob(2e-4, "Learning rate", "How big each update is. LoRA likes 1e-4 to 2e-3; full fine-tuning 1e-5 to 5e-5.", min=1e-7, max=1e-1)
    batch_size: int = knob(8, "Batch size", "Examples per step on the device. Lower it if memory runs out.", min=1, max=1024, step=1)
    grad_accum: int = knob(1, "Gradient accumulation", "Steps whose gradients add up before one update: a larger effective batch without more memory.", min=1, max=1024, step=1)
    warmup_ratio: float = knob(0.05, "Warmup share", "Share of steps over which the learning rate ramps up from zero.", min=0.0, max=0.5, step=0.01)
    weight_decay: float = knob(0.0, "Weight decay", "A pull of the weights toward zero that can reduce overfitting.", min=0.0, max=1.0, step=0.01)
    scheduler: str = knob("linear", "Learning-rate schedule", "How the learning rate changes after warmup.", choices=SCHEDULERS)
    max_grad_norm: float = knob(1.0, "Gradient clipping", "Caps the size of each update to keep training stable.", min=0.0, max=100.0, step=0.1)
    precision: str = knob("auto", "Precision", "auto picks bf16 on GPUs that support it (fp16 on older ones), and on CPUs with bf16 units (LoRA's frozen weights), else fp32.", choices=PRECISIONS)
    gradient_checkpointing: str = knob("auto", "Gradient checkpointing", "Saves memory by recomputing activations, about 30% slower. auto: on only when the memory estimate says the longest batch would not fit without it.", choices=CHECKPOINTING)
    attention: str = knob("auto", "Attention", "How attention is computed. auto: chosen by measurement: FlashAttention 2 on a GPU where installed, else PyTorch SDPA; on a CPU the plain eager code for short batches and SDPA for long ones.", choices=ATTENTION_CHOICES)
    packing: str = knob("auto", "Padding-free batches", "Lay a batch's examples end to end instead of padding them (the same loss). auto: where the attention does it natively (FlashAttention 2); on a CPU padded, length-sorted batches measured faster.", choices=PACKING_CHOICES)
    compile: bool = knob(False, "Compile the model", "torch.compile: the first step compiles the model (minutes), later steps run faster. Measured on a 2-core CPU with the 135M model: 5 minutes to compile, then 1.3x faster, so it pays only after several hundred steps.")
    liger_kernels: bool = knob(False, "Liger kernels", "CUDA GPUs only, with the liger-kernel package: fused kernels (linear cross-entropy, RMSNorm, RoPE, SwiGLU) for Llama, Mistral, Qwen, Gemma and similar models; less memory and often faster.")
    group_by_length: bool = knob(True, "Group by length", "Batch examples of similar length together so less compute goes to padding (chat task).")
    logging_steps: int = knob(1, "Log every N steps", "How often loss and speed are recorded.", min=1, max=10_000, step=1)
    eval_steps: int = knob(0, "Evaluate every N steps", "0: evaluate at the end of each epoch and at the end.", min=0, max=1_000_000, step=1)
    save_steps: int = knob(0, "Checkpoint every N steps", "0: checkpoint at the end of each epoch. Checkpoints let a stopped run resume.", min=0, max=1_000_000, step=1)
    save_total_limit: int = knob(2, "Checkpoints kept", "Older checkpoints are deleted to save disk.", min=1, max=100, step=1)
    class_weights: bool = knob(False, "Balance classes", "Classification: weight the loss by inverse class frequency so rare labels count as much as common ones.")
    beta: float = knob(0.1, "Preference strength (beta)", "Preference and feedback tuning (DPO, KTO): how far the tuned model may move from the base toward the preferred answers. Lower moves further; 0.1 is the usual start.", min=0.01, max=5.0, step=0.01)
    seed: int = knob(42, "Seed", "Same seed, same data and same settings give the same run.", min=0, max=2**31 - 1, step=1)
    resume: bool = knob(False, "Resume", "Continue from the last checkpoint in the output folder.")


@dataclass
class LoraConfig:
    r: int = knob(16, "LoRA rank", "Size of the adapter. 8-32 suits most tasks; higher learns more and uses more memory.", min=1, max=512, step=1)
    alpha: int = knob(32, "LoRA alpha", "Scales the adapter's effect; usually twice the rank.", min=1, max=1024, step=1)
    dropout: float = knob(0.05, "LoRA dropout", "Randomly drops adapter inputs while training to reduce overfitting.", min=0.0, max=0.5, step=0.01)
    target_modules: list[str] = knob(None, "Target modules", "Layers that get adapters; 'all-linear' or names like q_proj, v_proj.", factory=lambda: ["all-linear"])


@dataclass
class LaunchConfig:
    backend: str = knob("local", "Where it trains", "local: a process of its own on this machine (the default; a crash cannot take the app down). inline: inside the calling process (tests, notebooks). ray: a job on a Ray cluster at launch.address.", choices=BACKENDS, open_choices=True)
    processes: int = knob(1, "Processes per node", "Training processes on each machine, one per GPU: more than one trains data-parallel through torchrun.", min=1, max=64, step=1)
    nodes: int = knob(1, "Nodes", "Machines that train together. The studio starts node 0 and prints the command for each other node.", min=1, max=1024, step=1)
    strategy: str = knob("ddp", "Multi-device strategy", "ddp: a full copy of the model on each device (works with LoRA and QLoRA). fsdp: weights sharded across devices (full or LoRA). deepspeed: ZeRO stage 2 (needs the deepspeed package).", choices=STRATEGIES)
    address: str = knob("", "Cluster address", "ray: the Ray dashboard address, e.g. http://head-node:8265. Several nodes: host:port of node 0 for the rendezvous.")


@dataclass
class StudioConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    task: str = knob("chat", "Task", "What to train. Every installed task is offered (chat, classification, preference, feedback, seq2seq and plug-ins); the Train tab explains each, in its own words.", choices=TASKS, open_choices=True)
    method: str = knob("lora", "Method", "lora: small adapter, fast and light. qlora: LoRA on a 4-bit model, least memory (needs a CUDA GPU). full: update every weight, most memory.", choices=METHODS)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    launch: LaunchConfig = field(default_factory=LaunchConfig)
    rewards: list = knob(None, "Rewards", "Reinforcement learning (task grpo): what a good reply earns, a list of entries like {kind: numeric_match, column: answer, weight: 1}; see studio/tasks/grpo/rewards.py for the kinds.", factory=list)
    grpo: dict = knob(None, "GRPO settings", "Task grpo: generations (replies per prompt, default 4), max_new_tokens (64), temperature (1.0), beta (KL weight, 0.04), samples (replies shown per logged step, 4).", factory=dict)
    output_dir: str = knob("runs/run", "Output folder", "Where the run's config, log, checkpoints and model go.")
    owner: str = knob("", "Owner", "Who started the run (for shared servers); empty on a single-user machine.")

    # ---- views -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_yaml(), encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict | None) -> "StudioConfig":
        return _build(cls, data or {}, "")

    @classmethod
    def load(cls, path: str | Path) -> "StudioConfig":
        p = Path(path)
        if not p.is_file():
            raise StudioError(f"config file not found: {path}")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise StudioError(f"{path}: not valid YAML{where}; check the indentation and colons there") from err
        if data is not None and not isinstance(data, dict):
            raise StudioError(f"{path}: expected keys like 'model:' and 'data:' at the top level")
        cfg = cls.from_dict(data)
        cfg._base = p.parent  # relative data paths are read from the config's folder first
        return cfg

    def with_overrides(self, assignments: list[str]) -> "StudioConfig":
        """Apply ``key=value`` strings with dotted keys, e.g. ``train.max_steps=10``."""
        data = self.to_dict()
        for item in assignments:
            if "=" not in item:
                raise StudioError(f"--set {item!r}: expected key=value, for example train.max_steps=10")
            key, raw = item.split("=", 1)
            parts = key.strip().split(".")
            node = data
            for i, part in enumerate(parts):
                if not isinstance(node, dict) or part not in node:
                    raise StudioError(_unknown_key(".".join(parts[: i + 1]), node if isinstance(node, dict) else {}, "--set"))
                if i == len(parts) - 1:
                    node[part] = yaml.safe_load(raw) if raw.strip() else ""
                else:
                    node = node[part]
        new = StudioConfig.from_dict(data)
        new._base = getattr(self, "_base", None)
        return new

    def resolve_path(self, value: str) -> str:
        """A data path as given, or relative to the config file's folder when that is where it exists."""
        if not value:
            return value
        p = Path(value).expanduser()
        base = getattr(self, "_base", None)
        if not p.is_absolute() and not p.exists() and base is not None and (base / p).exists():
            return str((base / p).resolve())
        return str(p)

    # ---- checks ------------------------------------------------------------------------------
    def validate(self, cuda_available: bool | None = None) -> list[str]:
        """Raise StudioError for impossible settings; return warnings for risky ones."""
        warnings: list[str] = []
        for section in (self, self.model, self.data, self.train, self.lora, self.launch):
            for f in fields(section):
                meta = f.metadata
                value = getattr(section, f.name)
                name = _field_path(section, f.name)
                if meta.get("choices") and not meta.get("open_choices") and value not in meta["choices"]:
                    raise StudioError(f"{name}: '{value}' is not one of {', '.join(map(str, meta['choices']))}")
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    if meta.get("min") is not None and value < meta["min"]:
                        raise StudioError(f"{name}: {value} is below the minimum {meta['min']}")
                    if meta.get("max") is not None and value > meta["max"]:
                        raise StudioError(f"{name}: {value} is above the maximum {meta['max']}")
        if not self.data.train:
            raise StudioError("data.train is empty: give a training file, e.g. --set data.train=my_data.jsonl")
        for key in ("train", "eval"):
            value = getattr(self.data, key)
            if value and not Path(self.resolve_path(value)).is_file():
                raise StudioError(f"data.{key}: file not found: {value}")
        from studio.core.models import resolve

        resolve(self.model.source, prepare=False)
        if not self.output_dir:
            raise StudioError("output_dir is empty: give a folder for the run, e.g. --set output_dir=runs/my-run")
        if self.train.max_steps == 0:
            raise StudioError("train.max_steps is 0: use -1 to run all epochs, or a positive number of steps")
        if self.lora.alpha and self.method == "full" and self.lora.r != LoraConfig.r:
            warnings.append("lora settings are ignored with method=full")
        if cuda_available is None:
            import torch

            cuda_available = torch.cuda.is_available()
        if self.method == "qlora" and not cuda_available:
            warnings.append(
                "qlora without a CUDA GPU: the 4-bit model runs on the CPU through bitsandbytes, several times "
                "slower than lora; choose method=lora on a CPU"
            )
        if self.train.liger_kernels:
            import importlib.util

            if not cuda_available:
                raise StudioError("train.liger_kernels needs a CUDA GPU (its kernels are written in Triton); turn it off here")
            if importlib.util.find_spec("liger_kernel") is None:
                raise StudioError("train.liger_kernels needs the liger-kernel package: pip install liger-kernel, "
                                  "or turn it off")
        if self.train.attention == "flash_attention_2":
            from studio.core.attention import flash_attention_installed

            if not cuda_available or not flash_attention_installed():
                raise StudioError("train.attention=flash_attention_2 needs a CUDA GPU and the flash-attn package; "
                                  "use attention=auto (it picks FlashAttention 2 where it can)")
        if self.train.precision == "fp16" and not cuda_available:
            raise StudioError("train.precision=fp16 needs a CUDA GPU; use precision=auto or fp32 on a CPU")
        if self.train.precision == "bf16" and not cuda_available:
            from studio.core.hardware import cpu_bf16_units

            if not cpu_bf16_units():
                raise StudioError("train.precision=bf16 needs a CUDA GPU or a CPU with bf16 units (AMX or AVX512-BF16), "
                                  "and this one has neither; use precision=auto or fp32")
        return warnings


def _field_path(section, name: str) -> str:
    prefix = {ModelConfig: "model.", DataConfig: "data.", TrainConfig: "train.", LoraConfig: "lora.",
              LaunchConfig: "launch."}.get(type(section), "")
    return prefix + name


def _unknown_key(key: str, known: dict, where: str) -> str:
    leaf = key.split(".")[-1]
    close = difflib.get_close_matches(leaf, list(known), n=1)
    hint = f"; did you mean '{key.rsplit('.', 1)[0] + '.' if '.' in key else ''}{close[0]}'?" if close else ""
    options = ", ".join(known) if known else "none"
    return f"{where}: unknown config key '{key}'{hint} (known here: {options})"


def _build(cls, data: dict, prefix: str):
    if not isinstance(data, dict):
        raise StudioError(f"config: '{prefix.rstrip('.')}' should be a section with keys, not {data!r}")
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise StudioError(_unknown_key(prefix + str(key), known, "config"))
        f = known[key]
        sub = _SECTIONS.get(f.name) if cls is StudioConfig else None
        if sub is not None:
            kwargs[key] = _build(sub, value or {}, prefix + key + ".")
        else:
            kwargs[key] = _coerce(value, f, prefix + key)
    return cls(**kwargs)


def _coerce(value, f, name: str):
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise StudioError(f"{name}: expected true or false, got {value!r}")
    if isinstance(default, int):
        try:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise StudioError(f"{name}: expected a whole number, got {value!r}") from None
    if isinstance(default, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise StudioError(f"{name}: expected a number, got {value!r}") from None
    if isinstance(default, dict):
        if value in (None, ""):
            return {}
        if isinstance(value, str):  # key=value pairs from the command line: text=review,label=sentiment
            try:
                return dict(pair.split("=", 1) for pair in value.split(",") if pair.strip())
            except ValueError:
                raise StudioError(f"{name}: expected a mapping like text=review,label=sentiment, got {value!r}") from None
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        raise StudioError(f"{name}: expected a mapping, got {value!r}")
    if isinstance(default, list):
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list):  # names, or entries with fields of their own (rewards)
            return [dict(v) if isinstance(v, dict) else str(v) for v in value]
        raise StudioError(f"{name}: expected a list, got {value!r}")
    if value is None:
        return ""
    choices = f.metadata.get("choices") or ()
    if "on" in choices and "off" in choices:  # a switch with auto: true/false (older run configs) mean on/off
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
            return "on" if value.lower() in ("true", "yes", "1") else "off"
    return str(value)


_SECTIONS = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig, "lora": LoraConfig, "launch": LaunchConfig}


def knobs(section) -> list[dict]:
    """Field descriptions of a config section for building widgets: name, default, label, help, bounds."""
    out = []
    for f in fields(section):
        if f.name in _SECTIONS and section is StudioConfig:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out.append({"name": f.name, "default": default, **f.metadata})
    return out

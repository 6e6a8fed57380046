"""The one configuration of a run: model, task, method, data, training, LoRA, output folder.

Every field carries its label, bounds and help text in ``metadata`` so that the web UI builds its widgets
from here and the CLI's ``--set key=value`` and the YAML file in each run folder are views of the same thing.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import yaml

from studio.core.attention import ATTENTION_CHOICES, PACKING_CHOICES
from studio.core.errors import StudioError
from studio.data.formats import registry as formats

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
TRACKERS = ("tensorboard", "mlflow", "trackio", "wandb")  # experiment trackers (transformers' integrations)


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
    format: str = knob("auto", "Format", f"How to read the records: {', '.join(formats.CHOICES)}.", choices=formats.CHOICES)
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
    eval_steps: int = knob(0, "Evaluate every N steps", "0: about 5 times spread over the run, and once at the end.", min=0, max=1_000_000, step=1)
    save_steps: int = knob(0, "Checkpoint every N steps", "0: about 4 checkpoints spread over the run. Checkpoints let a stopped run resume.", min=0, max=1_000_000, step=1)
    save_total_limit: int = knob(2, "Checkpoints kept", "Older checkpoints are deleted to save disk.", min=1, max=100, step=1)
    report_to: list[str] = knob(None, "Experiment trackers", "Also record the run where you follow experiments: tensorboard (event files in the run folder), mlflow (a local store in the runs folder, or MLFLOW_TRACKING_URI), trackio (local), wandb (where installed and logged in). One that is missing or unreachable is a warning, never a failed run.", choices=TRACKERS, factory=list)
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


# ---- task sections -----------------------------------------------------------------------------
# A task may own a section of the config (``preference.beta``, ``classification.class_weights``): a dataclass of
# ``knob`` fields that the task declares (``studio.tasks.base.Task.settings``). Core knows no task: the task
# registry hands it the sections (``use_task_sections``), and every config then carries each of them, in YAML, in
# ``--set`` keys and in the page's widgets, as it carries ``train`` or ``lora``. A section class may say where its
# fields used to live, ``MOVED_FROM = {"train.beta": "beta"}``: those old keys are still read, with a note naming
# the new key.
_task_sections: Callable[[], dict[str, type]] = dict
_section_of: Callable[[str], str] = lambda task: ""  # noqa: E731 - the section a task's own settings live in
_said: set[str] = set()  # deprecation notes already logged by this process (each once: run lists read many configs)
log = logging.getLogger("studio.config")


def use_task_sections(finder: Callable[[], dict[str, type]], section_of: Callable[[str], str]) -> None:
    """Where the task sections come from (the task registry): ``finder() -> {section name: dataclass}``, and
    ``section_of(task name) -> section name`` ("" for a task without settings)."""
    global _task_sections, _section_of
    _task_sections, _section_of = finder, section_of


def task_sections() -> dict[str, type]:
    """Every task section the installed tasks declare, by name."""
    return dict(_task_sections())


def _moved_keys() -> dict[str, str]:
    """Old dotted keys of task settings -> their new keys (``train.beta`` -> ``preference.beta``)."""
    out = {}
    for name, cls in task_sections().items():
        for old, new in (getattr(cls, "MOVED_FROM", None) or {}).items():
            out[old] = f"{name}.{new}"
    return out


def _say(note: str) -> None:
    if note not in _said:
        _said.add(note)
        log.warning("config: %s", note)


def moved_note(old: str, new: str) -> str:
    return f"{old} is now {new}: write {new} in the config or --set (the old key still works for now)"


@dataclass
class StudioConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    task: str = knob("chat", "Task", "What to train. Every installed task is offered (chat, classification, preference, feedback, seq2seq and plug-ins); the Train tab explains each, in its own words.", choices=TASKS, open_choices=True)
    method: str = knob("lora", "Method", "lora: small adapter, fast and light. qlora: LoRA on a 4-bit model, least memory on a CUDA GPU (on a CPU it runs several times slower than lora). full: update every weight, most memory.", choices=METHODS)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    launch: LaunchConfig = field(default_factory=LaunchConfig)
    rewards: list = knob(None, "Rewards", "Reinforcement learning (task grpo): what a good reply earns, a list of entries like {kind: numeric_match, column: answer, weight: 1}; see studio/tasks/grpo/rewards.py for the kinds.", factory=list)
    output_dir: str = knob("runs/run", "Output folder", "Where the run's config, log, checkpoints and model go.")
    owner: str = knob("", "Owner", "Who started the run (for shared servers); empty on a single-user machine.")
    # the task sections (see ``use_task_sections``), by name; read as attributes: ``config.preference.beta``
    sections: dict = field(default_factory=dict, repr=False, compare=False, metadata={"internal": True})

    def __getattr__(self, name: str):
        if name.startswith("_") or name == "sections":
            raise AttributeError(name)
        found = self.__dict__.get("sections")
        if found is not None and name in found:
            return found[name]
        cls = task_sections().get(name)
        if cls is None or found is None:
            raise AttributeError(f"'StudioConfig' has no section or field '{name}'")
        found[name] = cls()  # a section of a task installed after this config was made: its defaults
        return found[name]

    def section_names(self) -> list[str]:
        """The task sections this config carries: every installed task's, and any it was built with."""
        return list(dict.fromkeys(list(task_sections()) + list(self.sections)))

    @property
    def notes(self) -> list[str]:
        """Deprecation notes from reading this config (old keys that moved); ``validate`` returns them as warnings."""
        return list(self.__dict__.get("_notes", []))

    # ---- views -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        out = {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name != "sections"}
        for name in self.section_names():
            out[name] = dataclasses.asdict(getattr(self, name))
        return out

    def to_yaml(self) -> str:
        """The config as a run folder keeps it: every common field, the run's own task section, and any other task
        section only where it differs from its defaults (a chat run's file does not list DPO's beta)."""
        data = self.to_dict()
        own = _section_of(self.task)
        for name, cls in task_sections().items():
            if name != own and name in data and data[name] == dataclasses.asdict(cls()):
                del data[name]
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_yaml(), encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict | None) -> "StudioConfig":
        data, notes = _move_old_keys(data or {})
        cfg = _build(cls, data, "")
        for note in notes:
            _say(note)
        cfg._notes = notes
        return cfg

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
        notes = self.notes
        moved = _moved_keys()
        for item in assignments:
            if "=" not in item:
                raise StudioError(f"--set {item!r}: expected key=value, for example train.max_steps=10")
            key, raw = item.split("=", 1)
            if key.strip() in moved:  # an old key of a task setting: set the new one, and say so
                new_key = moved[key.strip()]
                notes.append(moved_note(key.strip(), new_key))
                _say(notes[-1])
                key = new_key
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
        new._notes = list(dict.fromkeys(notes + new.notes))
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
        warnings: list[str] = list(self.notes)
        sections = [self, self.model, self.data, self.train, self.lora, self.launch]
        for section in sections + [getattr(self, name) for name in self.section_names()]:
            for f in fields(section):
                meta = f.metadata
                if meta.get("internal"):
                    continue
                value = getattr(section, f.name)
                name = _field_path(section, f.name)
                if meta.get("choices") and isinstance(value, list):
                    bad = [v for v in value if v not in meta["choices"]]
                    if bad:
                        raise StudioError(f"{name}: '{bad[0]}' is not one of {', '.join(map(str, meta['choices']))}")
                elif meta.get("choices") and not meta.get("open_choices") and value not in meta["choices"]:
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
              LaunchConfig: "launch."}.get(type(section))
    if prefix is None:
        prefix = next((f"{n}." for n, cls in task_sections().items() if type(section) is cls), "")
    return prefix + name


def _plain(value):
    import copy

    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else copy.deepcopy(value)


def _move_old_keys(data: dict) -> tuple[dict, list[str]]:
    """``data`` with task settings written under their old keys (``train: {beta: 0.2}``) moved to their sections
    (``preference: {beta: 0.2}``), and a note for each. A value under the new key wins."""
    moved = _moved_keys()
    if not isinstance(data, dict) or not moved:
        return data, []
    data = dict(data)
    notes = []
    for old, new in moved.items():
        old_section, old_name = old.split(".", 1)
        new_section, new_name = new.split(".", 1)
        node = data.get(old_section)
        if not isinstance(node, dict) or old_name not in node:
            continue
        node = dict(node)
        value = node.pop(old_name)
        data[old_section] = node
        target = dict(data.get(new_section) or {})
        target.setdefault(new_name, value)
        data[new_section] = target
        notes.append(moved_note(old, new))
    return data, notes


def _unknown_key(key: str, known: dict, where: str) -> str:
    leaf = key.split(".")[-1]
    close = difflib.get_close_matches(leaf, list(known), n=1)
    hint = f"; did you mean '{key.rsplit('.', 1)[0] + '.' if '.' in key else ''}{close[0]}'?" if close else ""
    options = ", ".join(known) if known else "none"
    return f"{where}: unknown config key '{key}'{hint} (known here: {options})"


def _build(cls, data: dict, prefix: str):
    if not isinstance(data, dict):
        raise StudioError(f"config: '{prefix.rstrip('.')}' should be a section with keys, not {data!r}")
    known = {f.name: f for f in fields(cls) if not f.metadata.get("internal")}
    extra = task_sections() if cls is StudioConfig else {}
    kwargs: dict[str, Any] = {}
    sections: dict[str, Any] = {}
    for key, value in data.items():
        if key in extra:  # a task's own section
            sections[key] = _build(extra[key], value or {}, prefix + key + ".")
            continue
        if key not in known:
            raise StudioError(_unknown_key(prefix + str(key), {**known, **extra}, "config"))
        f = known[key]
        sub = _SECTIONS.get(f.name) if cls is StudioConfig else None
        if sub is not None:
            kwargs[key] = _build(sub, value or {}, prefix + key + ".")
        else:
            kwargs[key] = _coerce(value, f, prefix + key)
    if cls is StudioConfig:
        kwargs["sections"] = {name: sections.get(name) or extra[name]() for name in extra}
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
        if (f.name in _SECTIONS and section is StudioConfig) or f.metadata.get("internal"):
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out.append({"name": f.name, "default": default, **f.metadata})
    return out

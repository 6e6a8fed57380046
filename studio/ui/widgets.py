"""Widgets generated from the config's field metadata (label, help, bounds, choices): never hand-copied."""

from __future__ import annotations

import gradio as gr

from dataclasses import fields

from studio.core.config import StudioConfig, knobs, task_sections

# Common LoRA targets offered in the dropdown (custom names can be typed too).
LORA_TARGETS = ("all-linear", "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
                "query", "key", "value", "dense")
MAX_SLIDER_TICKS = 500  # a wider range gets a number box with the same bounds


def knob_spec(section, name: str) -> dict:
    for k in knobs(section):
        if k["name"] == name:
            return _with_registry(k) if k.get("open_choices") and name == "task" else k
    raise KeyError(name)


def _with_registry(spec: dict) -> dict:
    """The task choice offers every registered task (plug-ins included), each explained by the task itself."""
    from studio import tasks

    found = tasks.all_tasks()
    return dict(spec, choices=tuple(t.name for t in found), help=". ".join(f"{t.name}: {t.help}" for t in found) + ".")


def widget(spec: dict, value=None, **extra):
    """The right component for one config field."""
    value = spec["default"] if value is None else value
    common = {"label": spec["label"], "info": spec["help"], **extra}
    if spec.get("choices") and isinstance(spec["default"], list):
        return gr.Dropdown(choices=list(spec["choices"]), value=list(value or []), multiselect=True, **common)
    if spec.get("choices"):
        return gr.Dropdown(choices=list(spec["choices"]), value=value, **common)
    if isinstance(spec["default"], bool):
        return gr.Checkbox(value=bool(value), **common)
    if isinstance(spec["default"], list):
        choices = list(dict.fromkeys(list(LORA_TARGETS) + list(value or [])))
        return gr.Dropdown(choices=choices, value=list(value or []), multiselect=True, allow_custom_value=True, **common)
    if isinstance(spec["default"], (int, float)):
        lo, hi, step = spec.get("min"), spec.get("max"), spec.get("step")
        is_int = isinstance(spec["default"], int)
        if lo is not None and hi is not None and step and (hi - lo) / step <= MAX_SLIDER_TICKS:
            return gr.Slider(minimum=lo, maximum=hi, step=step, value=value, **common)
        return gr.Number(value=value, minimum=lo, maximum=hi, step=step or (1 if is_int else _float_step(spec["default"])),
                         precision=0 if is_int else None, **common)
    return gr.Textbox(value=str(value), **common)


def _float_step(default: float) -> float:
    return 1e-5 if 0 < abs(default) < 0.01 else 0.01


# Which fields the Train tab shows, grouped; (section attribute or "" for top level, field name).
BASIC = (("", "task"), ("", "method"), ("train", "max_steps"), ("train", "epochs"), ("train", "learning_rate"),
         ("train", "batch_size"), ("lora", "r"), ("data", "max_length"))
ADVANCED = (("train", "grad_accum"), ("train", "scheduler"), ("train", "warmup_ratio"), ("train", "weight_decay"),
            ("train", "max_grad_norm"), ("train", "precision"), ("train", "gradient_checkpointing"),
            ("train", "attention"), ("train", "packing"), ("train", "compile"),
            ("train", "liger_kernels"), ("train", "group_by_length"), ("lora", "alpha"), ("lora", "dropout"), ("lora", "target_modules"),
            ("data", "eval_fraction"), ("data", "train_on_prompt"), ("train", "logging_steps"),
            ("train", "eval_steps"), ("train", "save_steps"), ("train", "save_total_limit"), ("train", "seed"),
            ("train", "report_to"))
# Where the run trains: shown when this machine has several GPUs or a cluster is configured (STUDIO_RAY_ADDRESS).
# No address and no nodes: a run from the page trains on this machine or on the operator's cluster (user_runs.place).
LAUNCH = (("launch", "processes"), ("launch", "strategy"), ("launch", "backend"))
FIELDS = BASIC + ADVANCED + LAUNCH


def task_fields() -> tuple[tuple[str, str], ...]:
    """The fields of every task's own section (``preference.beta``, ...), shown when a task using it is chosen."""
    return tuple((name, f.name) for name, cls in task_sections().items() for f in fields(cls)
                 if not f.metadata.get("internal"))


def all_fields() -> tuple[tuple[str, str], ...]:
    """Every field the Train tab shows: the common ones, then the tasks' sections (installed tasks, now)."""
    return FIELDS + task_fields()


def key_of(section: str, name: str) -> str:
    return f"{section}.{name}" if section else name


def section_class(section: str):
    from studio.core.config import DataConfig, LaunchConfig, LoraConfig, TrainConfig

    common = {"": StudioConfig, "train": TrainConfig, "lora": LoraConfig, "data": DataConfig, "launch": LaunchConfig}
    return common[section] if section in common else task_sections()[section]


def config_value(cfg: StudioConfig, key: str):
    node = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


def build_config(values: dict, model_source: str, data: dict, task: str | None = None) -> StudioConfig:
    """A StudioConfig from widget values keyed ``section.name`` plus the chosen model and data."""
    d: dict = {"model": {"source": model_source}, "data": {}, "train": {}, "lora": {}, "launch": {}}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, float) and value.is_integer() and isinstance(knob_spec(section_class(key.split(".")[0] if "." in key else ""), key.split(".")[-1])["default"], int):
            value = int(value)
        if "." in key:
            section, name = key.split(".", 1)
            d.setdefault(section, {})[name] = value
        else:
            d[key] = value
    data = data or {}
    if data.get("path"):
        d["data"]["train"] = data["path"]
    if data.get("format"):
        d["data"]["format"] = data["format"]
    if data.get("columns"):
        d["data"]["columns"] = dict(data["columns"])
    if task or data.get("task"):
        d["task"] = task or data.get("task")
    else:
        d.pop("task", None)  # the config's own default task
    return StudioConfig.from_dict(d)

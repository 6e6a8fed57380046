"""The task registry: every task the studio can train, by name.

Each package under ``studio/tasks/`` that exposes ``TASK`` (see ``studio.tasks.base`` for the contract) is
found the first time a task is looked up; a task defined elsewhere (a test, an extension) joins with
``register(MyTask())``. The trainer, the CLI, evaluation, export and the UI tabs ask here:

    get(name) -> Task          the task of a run (``config.task``), or a StudioError naming the known ones
    find(name) -> Task | None  the same, None for a task that is not installed (a run from elsewhere)
    names() -> list[str]       every registered task, built-in ones first
    all_tasks() -> list[Task]
    for_format(fmt) -> Task    the task that trains on data format ``fmt`` (the Data tab's guess)
    for_model(info) -> Task    the task a model is meant for (``studio.core.models.describe`` facts)
    for_data_and_model(fmt, info) -> Task   a task that trains on ``fmt`` and suits the model, else ``for_format``
    data_reader(path, fmt, media) -> reader | None   a task's own reader for a file the studio's intake cannot
                               read (data with images); None for ordinary data
    check(config) -> list[str] ``config.validate()`` plus the task's own checks; returns the warnings
    settings_sections() -> dict  every task's own config section, ``{section name: dataclass}``; handed to
                               ``studio.core.config`` so that configs carry them (``preference.beta``)
"""

from __future__ import annotations

from studio.core import config as _config
from studio.core.plugins import Plugins
from studio.core.errors import StudioError
from studio.tasks.base import ChartPanel, Task  # noqa: F401 - part of the contract

BUILTIN_ORDER = ("chat", "classification")  # the rest follow in folder order
_plugins = Plugins(__name__, __path__, "TASK", "name", "task", first=BUILTIN_ORDER, packages=True,
                   accept=lambda found: isinstance(found, Task))


def register(task: Task) -> Task:
    """Add (or replace) a task; returns it."""
    return _plugins.register(task)


def unregister(name: str) -> None:
    _plugins.unregister(name)


def get(name: str) -> Task:
    task = _plugins.find(name)
    if task is None:
        raise StudioError(f"task: unknown task '{name}'; the tasks here are: {', '.join(names())}")
    return task


def find(name: str) -> Task | None:
    return _plugins.find(name)


def names() -> list[str]:
    return _plugins.names()


def all_tasks() -> list[Task]:
    return _plugins.all()


def for_format(fmt: str) -> Task:
    """The first task that trains on data format ``fmt``; the first task when none claims it."""
    tasks = all_tasks()
    return next((t for t in tasks if fmt in t.data_formats), tasks[0])


def for_model(info: dict) -> Task:
    """The first task whose ``suits_model`` accepts the model; the first task when none does."""
    tasks = all_tasks()
    return next((t for t in tasks if t.suits_model(info)), tasks[0])


def for_data_and_model(fmt: str, info: dict | None) -> Task:
    """The first task that trains on data format ``fmt`` and suits the model (chat data and a T5 model: seq2seq);
    ``for_format(fmt)`` when none does both."""
    if info:
        both = [t for t in all_tasks() if fmt in t.data_formats and t.suits_model(info)]
        if both:
            return both[0]
    return for_format(fmt)


def data_reader(path: str, fmt: str = "auto", media: bool = False):
    """The first task's own reader for this file (``Task.data_reader``): data with images; None for other data."""
    return next((r for t in all_tasks() if (r := t.data_reader(str(path), fmt or "auto", media)) is not None), None)


def check(config, cuda: bool | None = None) -> list[str]:
    """Validate a config for training: the generic checks, then its task's. Returns the warnings."""
    warnings = config.validate(cuda)
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    get(config.task).check_config(config, cuda)
    return warnings


def settings_sections() -> dict[str, type]:
    """``{section name: settings dataclass}`` of every task that has settings (tasks may share a section)."""
    out: dict[str, type] = {}
    for task in all_tasks():
        if task.section:
            out.setdefault(task.section, task.settings)
    return out


def _section_of(name: str) -> str:
    task = find(name)
    return task.section if task else ""


_config.use_task_sections(settings_sections, _section_of)

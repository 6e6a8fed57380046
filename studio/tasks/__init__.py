"""The task registry: every task the studio can train, by name.

Each package under ``studio/tasks/`` that exposes ``TASK`` (see ``studio.tasks.base`` for the contract) is
found the first time a task is looked up; a task defined elsewhere (a test, an extension) joins with
``register(MyTask())``. The trainer, the CLI, evaluation, export and the UI tabs ask here:

    get(name) -> Task          the task of a run (``config.task``), or a StudioError naming the known ones
    find(name) -> Task | None  the same, None for a task that is not installed (a run from elsewhere)
    names() -> list[str]       every registered task, built-in ones first
    all_tasks() -> list[Task]
    for_format(fmt) -> Task    the task that trains on data format ``fmt`` (the Data tab's guess)
    for_model(info) -> Task    the task a model is meant for (``studio.models.describe`` facts)
    for_data_and_model(fmt, info) -> Task   a task that trains on ``fmt`` and suits the model, else ``for_format``
    check(config) -> list[str] ``config.validate()`` plus the task's own checks; returns the warnings
"""

from __future__ import annotations

import importlib
import pkgutil
import threading

from studio.errors import StudioError
from studio.tasks.base import Task

_tasks: dict[str, Task] = {}  # the plug-in table: code, not user state; filled once, then only read
_found = False
_lock = threading.Lock()
BUILTIN_ORDER = ("chat", "classification")  # the rest follow in folder order


def register(task: Task) -> Task:
    """Add (or replace) a task; returns it."""
    if not task.name or not task.name.isidentifier():
        raise ValueError(f"a task needs a name that is a Python identifier, not {task.name!r}")
    _discover()
    with _lock:
        _tasks[task.name] = task
    return task


def unregister(name: str) -> None:
    with _lock:
        _tasks.pop(name, None)


def _discover() -> None:
    global _found
    if _found:
        return
    with _lock:
        if _found:
            return
        found = {}
        for mod in pkgutil.iter_modules(__path__):
            if not mod.ispkg:
                continue
            task = getattr(importlib.import_module(f"{__name__}.{mod.name}"), "TASK", None)
            if isinstance(task, Task):
                found[task.name] = task
        order = [n for n in BUILTIN_ORDER if n in found] + sorted(n for n in found if n not in BUILTIN_ORDER)
        for name in order:
            _tasks.setdefault(name, found[name])
        _found = True


def get(name: str) -> Task:
    _discover()
    task = _tasks.get((name or "").strip())
    if task is None:
        raise StudioError(f"task: unknown task '{name}'; the tasks here are: {', '.join(names())}")
    return task


def find(name: str) -> Task | None:
    _discover()
    return _tasks.get((name or "").strip())


def names() -> list[str]:
    _discover()
    return list(_tasks)


def all_tasks() -> list[Task]:
    _discover()
    return list(_tasks.values())


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


def check(config, cuda: bool | None = None) -> list[str]:
    """Validate a config for training: the generic checks, then its task's. Returns the warnings."""
    warnings = config.validate(cuda)
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    get(config.task).check_config(config, cuda)
    return warnings

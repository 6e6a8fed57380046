"""Try panels: the tab a finished run is tried in, as its task names it (``Task.try_panel``).

A task names its panel by a module's dotted name; the page imports it (``importlib``), the task never does, so a
task package stays free of Gradio and the page free of torch. Tasks that name the same module share its tab (chat,
seq2seq, preference and feedback all use the Chat tab). A panel module holds only page code (no torch at import):

    TITLE = "Classify"          the tab's title
    TAB_ID = "classify"         the tab's id (``gr.Tabs(selected=TAB_ID)``)
    WHERE = "the **Classify** tab, ..."   how the run view says where a finished run is tried
    def build(ctx) -> dict      the tab's components, built inside the open tab (the tab contract in ``app.py``);
                                offer runs with ``ctx.run_choices(request, panel=__name__, with_model=True)``
    def eval_models(ctx, runs, run_id, progress) -> object | None     (optional) the loaded models of a run that
                                the Evaluate tab hands to the task's evaluation, so that both tabs load them once
    def eval_extras(result) -> (headers, rows, figure) | None  (optional) a table and a figure the Evaluate
                                tab shows under a saved evaluation (per-label scores and a confusion matrix)

Per-app state (loaded models) lives on the context: ``ctx.panel_cache(key, factory)``.
"""

from __future__ import annotations

import importlib
import logging

log = logging.getLogger("studio.ui")


def panel_name(task_name: str) -> str | None:
    """The try panel a run of this task is tried in; None for a task that is not installed."""
    from studio import tasks

    task = tasks.find(task_name)
    return task.try_panel if task else None


def task_chats(task_name: str) -> bool:
    """Whether a run of this task answers chat messages (``Task.chats``); False for a task that is not installed."""
    from studio import tasks

    task = tasks.find(task_name)
    return bool(task and task.chats)


def load(name: str | None):
    """The panel module named ``name`` (None when there is none or it cannot be imported; the log says why)."""
    if not name:
        return None
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - one broken panel must not take the page down
        log.exception("the try panel %s could not be loaded", name)
        return None


def of_task(task_name: str):
    """The panel module of a run's task, or None."""
    return load(panel_name(task_name))


def names() -> list[str]:
    """Every installed task's panel, once each, in the registry's order (the Chat tab first)."""
    from studio import tasks

    return list(dict.fromkeys(t.try_panel for t in tasks.all_tasks() if t.try_panel))


def where(task_name: str) -> str:
    """Where a finished run of this task is tried, in words for the run view."""
    panel = of_task(task_name) or load(names()[0] if names() else None)
    return getattr(panel, "WHERE", "") or "its try tab"


def eval_models(ctx, runs, run_id: str, task_name: str, progress=None):
    """The loaded models the run's panel keeps for it (None: the task's evaluation loads its own)."""
    fn = getattr(of_task(task_name), "eval_models", None)
    return fn(ctx, runs, run_id, progress) if fn is not None else None


def eval_extras(task_name: str, result: dict):
    """(headers, rows, figure) the panel of a run of this task adds to its saved evaluation, or None."""
    fn = getattr(of_task(task_name), "eval_extras", None)
    return fn(result) if fn is not None and result else None

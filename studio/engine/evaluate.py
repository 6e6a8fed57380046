"""Evaluate a trained run on held-out data: the base model against the tuned one, for any task.

The run's task (``studio.tasks``) scores both models on held-out examples (for chat: teacher-forced loss
and greedy replies scored with ROUGE-L, BLEU and exact match; for classification: accuracy, macro F1,
per-label scores and the confusion matrix). This module adds what every task shares: the change
base -> tuned, the overfitting check of the run's loss curves, a summary of the run's own events, and
``evaluation.json`` in the run folder, which the Evaluate tab and the model card read.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Callable

from studio import tasks
from studio.core.run import open_run
from studio.core.errors import StudioError
from studio.core.runfolder import RunFolder

Progress = Callable[[float, str], None]
RESULT_FILE = "evaluation.json"


def evaluate_run(run_dir: str | Path, data_path: str | None = None, limit: int | None = 20,
                 max_new_tokens: int = 128, progress: Progress | None = None, models=None, save: bool = True) -> dict:
    """Score the base and the tuned model of a run on held-out examples; see the module docstring.

    ``models``: the run's already loaded models, when the caller keeps them (the web app's caches); the task
    loads its own otherwise."""
    from studio.engine.overfit import check_run

    started = time.time()
    folder, config = open_run(run_dir)
    if not folder.has_model():
        status = folder.read_status()
        state = status.get("state", "unknown")
        if folder.cut_off(status):
            raise StudioError(f"{run_dir} was cut off before it finished (the app or process stopped) and has no "
                              "trained model; resume it, then evaluate")
        raise StudioError(f"{run_dir} has no trained model yet (state: {state}); wait for it to finish, or stop it "
                          "to save the model so far")
    if limit is not None and limit < 0:
        raise StudioError(f"--limit: {limit} is negative; give a number of examples like 20 (0: all)")
    report = progress or (lambda fraction, message: None)
    task = tasks.get(config.task)
    result = {"run_dir": str(folder.path), "task": task.name,
              **task.evaluate(folder, config, data_path, limit, max_new_tokens, report, models)}
    result["task"] = task.name
    # Each side lists the default task's metrics (what readers of evaluation.json have always found) and the
    # task's own; None where the task has no such number.
    known = dict.fromkeys([*tasks.all_tasks()[0].metrics, *task.metrics])
    for side in ("base", "tuned"):
        scores = dict(result.get(side) or {})
        for key in known:
            scores.setdefault(key, None)
        result[side] = scores
    result.setdefault("examples", [])
    result["change"] = metric_change(result["base"], result["tuned"])
    result["overfitting"] = check_run(folder.path)
    result["training"] = training_summary(folder)
    result["seconds"] = round(time.time() - started, 1)
    if save:
        (folder.path / RESULT_FILE).write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    report(1.0, "done")
    return result


def metric_change(base: dict, tuned: dict) -> dict:
    """tuned - base for every metric both have."""
    out = {}
    for key, b in base.items():
        t = tuned.get(key)
        if isinstance(b, (int, float)) and isinstance(t, (int, float)) and not isinstance(b, bool):
            out[key] = round(t - b, 5)
    return out


def training_summary(folder: RunFolder) -> dict:
    """What the run's own events say: steps, final train loss, last eval loss and perplexity."""
    events = folder.read_events(("start", "log", "eval", "end"))
    logs = [e for e in events if e["type"] == "log"]
    evals = [e for e in events if e["type"] == "eval" and e.get("eval_loss") is not None]
    ends = [e for e in events if e["type"] == "end"]
    starts = [e for e in events if e["type"] == "start"]
    out: dict = {"state": folder.read_status().get("state")}
    if starts:
        s = starts[-1]
        out.update({k: s.get(k) for k in ("train_examples", "eval_examples", "format", "device", "precision",
                                           "parameters", "trainable_parameters") if s.get(k) is not None})
    if logs:
        out["steps"] = logs[-1]["step"]
        out["last_train_loss"] = logs[-1]["loss"]
    if ends:
        e = ends[-1]
        out.update({k: e.get(k) for k in ("step", "train_loss", "runtime") if e.get(k) is not None})
    if evals:
        last = evals[-1]
        out["eval_loss"] = last["eval_loss"]
        out["perplexity"] = last.get("perplexity") or round(math.exp(min(last["eval_loss"], 50.0)), 4)
        best = min(evals, key=lambda e: e["eval_loss"])
        out["best_eval_loss"] = best["eval_loss"]
        out["best_eval_step"] = best["step"]
        for k, v in last.items():  # classification runs log accuracy / f1 with their evals
            if k.startswith("eval_") and k not in ("eval_loss",) and isinstance(v, (int, float)):
                out[k] = v
    return out


def load_saved(run_dir: str | Path) -> dict | None:
    """The last evaluation saved in a run folder, if any."""
    path = Path(run_dir) / RESULT_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def metric_order(result: dict) -> dict[str, bool]:
    """The result's metrics in display order, each with whether higher is better (its task's; a result of a
    task that is no longer installed shows the metrics it has, lower-is-better for losses)."""
    task = tasks.find(result.get("task") or "")
    if task:
        return dict(task.metrics)
    keys = list(dict.fromkeys(list(result.get("base") or {}) + list(result.get("tuned") or {})))
    return {k: not ("loss" in k or "perplexity" in k) for k in keys
            if isinstance((result.get("tuned") or {}).get(k, (result.get("base") or {}).get(k)), (int, float, type(None)))}


def metrics_table(result: dict) -> list[list]:
    """Rows of metric, base, tuned, change (with whether the change is an improvement)."""
    rows = []
    order = metric_order(result)
    keys = [k for k in order if k in result.get("base", {}) or k in result.get("tuned", {})]
    for key in keys:
        b, t = result["base"].get(key), result["tuned"].get(key)
        if b is None and t is None:
            continue
        change = result.get("change", {}).get(key)
        verdict = ""
        if change is not None and change != 0:
            better = (change > 0) == order.get(key, True)
            verdict = "better" if better else "worse"
        rows.append([key, b, t, change, verdict])
    return rows

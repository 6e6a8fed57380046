"""Runs side by side: their curves on one axis, the settings that differ, final figures with the best marked, and
their saved replies to the same held-out prompts.

Plain data from run folders (config.yaml, events.jsonl, evaluation.json): the CLI (``python -m studio compare``) prints
it, the Runs tab draws it. Who may compare which runs is the caller's business (the Runs tab asks the person's
own store).
"""

from __future__ import annotations

import json
from pathlib import Path

from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.core.runfolder import RunFolder

MIN_RUNS, MAX_RUNS = 2, 8
# Settings that always differ between runs and say nothing about how they trained.
IGNORED = ("output_dir", "owner", "train.resume")
LOWER_BETTER = ("loss", "perplexity", "runtime", "logp_gap_undesirable", "undesirable_logp")


def flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v and k != "columns":
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def differing_settings(configs: list[dict]) -> list[tuple[str, list]]:
    """(key, values per run) for each config key whose value is not the same in every run."""
    flats = [flat(c) for c in configs]
    keys = list(dict.fromkeys(k for f in flats for k in f))
    out = []
    for key in keys:
        if key in IGNORED:
            continue
        values = [f.get(key) for f in flats]
        if any(v != values[0] for v in values[1:]):
            out.append((key, values))
    return out


def curves(events: list[dict]) -> dict:
    """The run's curves: ``loss``, ``learning_rate`` and each eval figure as [step, tokens seen, value] points."""
    logs = [e for e in events if e.get("type") == "log"]
    tokens_at = {e["step"]: e.get("tokens_seen") for e in logs}
    out: dict[str, list] = {"loss": [], "learning_rate": []}
    for e in logs:
        for key in ("loss", "learning_rate"):
            if isinstance(e.get(key), (int, float)):
                out[key].append([e["step"], e.get("tokens_seen"), e[key]])
    steps = sorted(tokens_at)
    for e in (e for e in events if e.get("type") == "eval"):
        before = [s for s in steps if s <= e["step"]]
        tokens = tokens_at[before[-1]] if before else None
        for key, value in e.items():
            if key.startswith("eval_") and isinstance(value, (int, float)):
                out.setdefault(key, []).append([e["step"], tokens, value])
    return out


def final_metrics(events: list[dict]) -> dict:
    """The last evaluation's figures, the final training loss, steps and runtime."""
    out: dict = {}
    evals = [e for e in events if e.get("type") == "eval"]
    if evals:
        out.update({k: v for k, v in evals[-1].items() if k not in ("type", "time", "step") and isinstance(v, (int, float))})
    ends = [e for e in events if e.get("type") == "end"]
    logs = [e for e in events if e.get("type") == "log"]
    if ends and ends[-1].get("train_loss") is not None:
        out["train_loss"] = ends[-1]["train_loss"]
    elif logs:
        out["train_loss"] = logs[-1]["loss"]
    if ends:
        out["steps"] = ends[-1].get("step")
        if ends[-1].get("runtime") is not None:
            out["runtime"] = ends[-1]["runtime"]
    elif logs:
        out["steps"] = logs[-1]["step"]
    return out


def higher_is_better(name: str, task_metrics: dict[str, bool]) -> bool | None:
    """Whether a bigger figure is better (None: neither, e.g. steps)."""
    if name in ("steps",):
        return None
    bare = name[len("eval_"):] if name.startswith("eval_") else name
    for key in (name, bare):
        if key in task_metrics:
            return task_metrics[key]
    return not any(word in bare for word in LOWER_BETTER)


def _evaluation(folder: RunFolder) -> dict:
    try:
        return json.loads((folder.path / "evaluation.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _task_metrics(task_name: str) -> dict[str, bool]:
    from studio import tasks

    task = tasks.find(task_name)
    return dict(task.metrics) if task else {}


def compare(paths: list[str | Path], names: list[str] | None = None) -> dict:
    """Compare two to eight run folders. Raises StudioError for too few or too many, or a folder that is no run."""
    if not MIN_RUNS <= len(paths) <= MAX_RUNS:
        raise StudioError(f"compare takes {MIN_RUNS} to {MAX_RUNS} runs, not {len(paths)}; pick fewer or more")
    names = list(names or [Path(p).name for p in paths])
    if len(set(names)) < len(names):
        names = [str(p) for p in paths]
    runs, configs, events, evals = [], [], [], []
    for path, name in zip(paths, names):
        folder = RunFolder(path)
        if not folder.config_file.exists():
            raise StudioError(f"{path}: not a run folder (no config.yaml); give the output_dir of a training run")
        cfg = StudioConfig.load(folder.config_file)
        configs.append(cfg.to_dict())
        events.append(folder.read_events())
        evals.append(_evaluation(folder))
        runs.append({"name": name, "path": str(folder.path), "task": cfg.task,
                     "state": folder.read_status().get("state", "unknown")})
    finals = [final_metrics(e) for e in events]
    task_metrics: dict[str, bool] = {}
    for r in runs:
        task_metrics.update(_task_metrics(r["task"]))
    metric_names = list(dict.fromkeys(k for f in finals for k in f))
    metrics = []
    for name in metric_names:
        values = [f.get(name) for f in finals]
        direction = higher_is_better(name, task_metrics)
        present = [i for i, v in enumerate(values) if isinstance(v, (int, float))]
        best = None
        if direction is not None and len(present) >= 2 and len({values[i] for i in present}) > 1:  # a tie: none
            pick = max if direction else min
            best = pick(present, key=lambda i: values[i])
        metrics.append({"name": name, "values": values, "best": best,
                        "better": None if direction is None else ("higher" if direction else "lower")})
    return {
        "runs": runs,
        "settings": [{"key": k, "values": v} for k, v in differing_settings(configs)],
        "curves": {r["name"]: curves(e) for r, e in zip(runs, events)},
        "metrics": metrics,
        "replies": shared_replies(evals),
    }


def shared_replies(evals: list[dict], limit: int = 3) -> list[dict]:
    """Held-out prompts that every run's saved evaluation answered, with each run's reply (tuned model)."""
    if not evals or any(not e.get("examples") for e in evals):
        return []

    def key(row: dict) -> str:
        return str(row.get("prompt") or row.get("text") or "")

    by_run = [{key(r): r for r in e["examples"] if key(r)} for e in evals]
    common = [p for p in by_run[0] if all(p in b for b in by_run[1:])]
    return [{"prompt": p, "reference": by_run[0][p].get("reference") or by_run[0][p].get("label"),
             "replies": [b[p].get("tuned") for b in by_run]} for p in common[:limit]]


def aligned(result: dict, curve: str = "loss", by: str = "step") -> list[list]:
    """One curve of every run on shared x values: [[x, value run 1, value run 2, ...], ...] (None where a run has
    no point there). ``by``: "step" or "tokens"."""
    col = 0 if by == "step" else 1
    series = [{p[col]: p[2] for p in result["curves"][r["name"]].get(curve, []) if p[col] is not None}
              for r in result["runs"]]
    xs = sorted({x for s in series for x in s})
    return [[x] + [s.get(x) for s in series] for x in xs]

"""Experiment trackers for a run (``train.report_to``): TensorBoard, MLflow, Trackio and Weights & Biases.

transformers' own integrations (``TrainingArguments.report_to`` and their callbacks) log every training and
evaluation figure, the task's own ones included (a preference run's reward margin). This module adds what they do
not: where each tracker writes (TensorBoard's event files in the run folder, MLflow's local store in the runs
folder unless ``MLFLOW_TRACKING_URI`` says otherwise), the studio's resolved config, the run's outcome, and a
guard around each integration: a tracker that is missing, unreachable or fails while the run trains is a
warning in the run, never a failed run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from studio.core.config import StudioConfig
from studio.core.runfolder import RunFolder

# report_to name -> the integration callback's class name in transformers.integrations
CALLBACKS = {"tensorboard": "TensorBoardCallback", "mlflow": "MLflowCallback", "trackio": "TrackioCallback",
             "wandb": "WandbCallback"}
MODULES = {"tensorboard": "tensorboard", "mlflow": "mlflow", "trackio": "trackio", "wandb": "wandb"}
INSTALL = {"tensorboard": "pip install tensorboard", "mlflow": "pip install mlflow-skinny",
           "trackio": "pip install trackio", "wandb": "pip install wandb, then wandb login"}


def tensorboard_dir(folder: RunFolder) -> Path:
    return folder.path / "tensorboard"


def mlflow_uri(folder: RunFolder) -> str:
    """``MLFLOW_TRACKING_URI``, else a SQLite store in the runs folder (the run folder's parent)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{folder.path.parent.resolve() / 'mlflow.db'}"


def where(name: str, folder: RunFolder) -> str:
    """Where to look at a run in a tracker: a command or an address."""
    if name == "tensorboard":
        return f"tensorboard --logdir {tensorboard_dir(folder)}"
    if name == "mlflow":
        uri = mlflow_uri(folder)
        return uri if uri.startswith("http") else f"mlflow ui --backend-store-uri {uri} (the full mlflow package)"
    if name == "trackio":
        return "trackio show --project studio"
    return "your Weights & Biases project page (WANDB_PROJECT, else 'studio')"


class Trackers:
    """The trackers of one run: ``start`` before the trainer is built (returns its ``report_to``), ``guard`` once it
    is, ``finish`` with the outcome."""

    def __init__(self, config: StudioConfig, folder: RunFolder, emit):
        self.config, self.folder, self.emit = config, folder, emit
        self.active: list[str] = []
        self.trainer = None
        self._mlflow_run = None
        self._uri = ""

    def warn(self, message: str) -> None:
        self.emit({"type": "warning", "message": message})

    def start(self) -> list[str]:
        if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 records
            return []
        wanted = list(dict.fromkeys(self.config.train.report_to or []))
        for name in wanted:
            problem = self._problem(name)
            if problem:
                self.warn(f"tracker {name}: {problem}; the run trains without it")
                continue
            try:
                if name == "mlflow":
                    self._start_mlflow()
                elif name == "wandb":
                    os.environ.setdefault("WANDB_PROJECT", "studio")
            except Exception as err:  # noqa: BLE001 - a tracker never fails the run
                self.warn(f"tracker {name} did not start ({_short(err)}); the run trains without it")
                continue
            self.active.append(name)
        if self.active:
            self.emit({"type": "trackers", "trackers": {n: where(n, self.folder) for n in self.active}})
        return list(self.active)

    def training_args(self) -> dict:
        """TrainingArguments the started trackers need: Trackio's project, kept local (no Space, no Hub sync)."""
        if "trackio" in self.active:
            return {"project": "studio", "trackio_space_id": None, "trackio_static_space_id": False}
        return {}

    def _problem(self, name: str) -> str:
        if name not in CALLBACKS:
            return f"unknown (known: {', '.join(CALLBACKS)})"
        if importlib.util.find_spec(MODULES[name]) is None:
            return f"not installed ({INSTALL[name]})"
        if name == "wandb" and not _wandb_ready():
            return "not logged in (run wandb login, or set WANDB_API_KEY or WANDB_MODE=offline)"
        if name == "mlflow":
            uri = mlflow_uri(self.folder)
            parsed = urlparse(uri)
            if parsed.scheme in ("http", "https") and not _reachable(parsed):
                return f"cannot reach {uri}"
        return ""

    def _start_mlflow(self) -> None:
        """Open (or, resuming, reopen) this run's MLflow run, so that transformers' callback logs into it and the
        studio's config and outcome land beside its figures."""
        import mlflow

        uri = mlflow_uri(self.folder)
        local = not os.environ.get("MLFLOW_TRACKING_URI")
        mlflow.set_tracking_uri(uri)
        if local:  # mlflow writes the URI into the environment; the next run in this process picks its own store
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        self._uri = uri
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "studio")
        exp = mlflow.get_experiment_by_name(name)
        if exp is None:
            artifacts = (self.folder.path.parent.resolve() / "mlartifacts").as_uri() if local else None
            exp_id = mlflow.create_experiment(name, artifact_location=artifacts)
        else:
            exp_id = exp.experiment_id
        saved = self._saved().get("mlflow_run_id")
        if mlflow.active_run() is not None:
            mlflow.end_run()
        run = mlflow.start_run(run_id=saved) if saved else mlflow.start_run(experiment_id=exp_id, run_name=self.folder.path.name)
        self._mlflow_run = run.info.run_id
        self._save({"mlflow_run_id": self._mlflow_run, "mlflow_uri": uri})
        if not saved:
            mlflow.log_params({f"studio.{k}": str(v)[:500] for k, v in _flat(self.config.to_dict()).items()})
        mlflow.log_text(self.config.to_yaml(), "studio_config.yaml")

    def guard(self, trainer) -> None:
        """Wrap the trainer's integration callbacks so that one that fails is switched off with a warning."""
        self.trainer = trainer
        handler = trainer.callback_handler
        names = {v: k for k, v in CALLBACKS.items()}
        guarded = _guarded_class()
        handler.callbacks = [guarded(cb, names[type(cb).__name__], self.warn) if type(cb).__name__ in names else cb
                             for cb in handler.callbacks]
        tb = self._inner("tensorboard")
        if tb is not None:
            tb.logging_dir = str(tensorboard_dir(self.folder))  # in the run folder, beside the studio's own events

    def finish(self, state: str, end: dict | None = None) -> None:
        """Record the outcome (finished, stopped, failed) and the final figures, then close what this run opened."""
        end = {k: v for k, v in (end or {}).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        for name in self.active:
            try:
                if name == "tensorboard":
                    self._finish_tensorboard(state, end)
                elif name == "mlflow":
                    self._finish_mlflow(state, end)
                elif name == "wandb":
                    self._finish_wandb(state, end)
            except Exception as err:  # noqa: BLE001
                self.warn(f"tracker {name}: the outcome was not recorded ({_short(err)})")

    def _inner(self, name: str):
        if self.trainer is None:
            return None
        for cb in self.trainer.callback_handler.callbacks:
            if isinstance(cb, _guarded_class()) and cb.name == name and not cb.off:
                return cb.inner
        return None

    def _finish_tensorboard(self, state: str, end: dict) -> None:
        cb = self._inner("tensorboard")
        if cb is None:
            return
        writer = cb.tb_writer
        if writer is None:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(log_dir=cb.logging_dir or str(tensorboard_dir(self.folder)))
        step = int(end.get("step", 0))
        writer.add_text("studio/config", "```yaml\n" + self.config.to_yaml() + "\n```", step)
        writer.add_text("studio/outcome", state, step)
        for key in ("train_loss", "runtime"):
            if key in end:
                writer.add_scalar(f"outcome/{key}", end[key], step)
        writer.close()
        cb.tb_writer = None

    def _finish_mlflow(self, state: str, end: dict) -> None:
        import mlflow

        if self._mlflow_run is None:
            return
        client = mlflow.MlflowClient(self._uri)
        client.set_tag(self._mlflow_run, "outcome", state)
        for key in ("train_loss", "runtime"):
            if key in end:
                client.log_metric(self._mlflow_run, f"outcome/{key}", float(end[key]), step=int(end.get("step", 0)))
        active = mlflow.active_run()
        status = {"finished": "FINISHED", "stopped": "KILLED"}.get(state, "FAILED")
        if active is not None and active.info.run_id == self._mlflow_run:
            mlflow.end_run(status=status)
        else:
            client.set_terminated(self._mlflow_run, status=status)

    def _finish_wandb(self, state: str, end: dict) -> None:
        import wandb

        if wandb.run is not None:
            wandb.run.summary.update({"outcome": state, **end})
            wandb.finish(exit_code=0 if state in ("finished", "stopped") else 1)

    def _saved(self) -> dict:
        try:
            return json.loads((self.folder.path / "trackers.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _save(self, data: dict) -> None:
        (self.folder.path / "trackers.json").write_text(json.dumps({**self._saved(), **data}), encoding="utf-8")


_GUARDED = []


def _guarded_class():
    """A TrainerCallback that relays every event to an integration callback (built once, on first use)."""
    if _GUARDED:
        return _GUARDED[0]
    from transformers import TrainerCallback

    class Guarded(TrainerCallback):
        """One integration callback; its first failure switches it off and says so in the run."""

        def __init__(self, inner, name: str, warn):
            self.inner, self.name, self.warn, self.off = inner, name, warn, False

    def relay(event: str):
        def handler(self, args, state, control, **kw):
            if self.off:
                return None
            try:
                return getattr(self.inner, event)(args, state, control, **kw)
            except Exception as err:  # noqa: BLE001 - a tracker never fails the run
                self.off = True
                self.warn(f"tracker {self.name} stopped recording ({_short(err)}); the run goes on without it")
                return None
        return handler

    for event in [n for n in dir(TrainerCallback) if n.startswith("on_")]:
        setattr(Guarded, event, relay(event))
    _GUARDED.append(Guarded)
    return Guarded


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and k not in ("columns",):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _reachable(parsed) -> bool:
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "localhost", port), timeout=3):
            return True
    except OSError:
        return False


def _wandb_ready() -> bool:
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE", "").lower() in ("offline", "disabled"):
        return True
    netrc = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return "api.wandb.ai" in netrc.read_text(encoding="utf-8")
    except OSError:
        return False


def _short(err: BaseException) -> str:
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text[:200]}" if text else type(err).__name__

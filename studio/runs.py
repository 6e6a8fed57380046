"""The run store: where runs live, who owns them, and the queue that runs them one at a time.

A store is a folder of run folders (see ``studio.runfolder``). Training runs in a background worker
thread, one job at a time (one device, a first-come queue); every state lives in the run folders, so a
page reload, a second browser tab or a restart of the app sees the same runs. A run whose status says
running or queued but whose worker is gone (the app was restarted) is shown as ``interrupted`` and can
be resumed from its last checkpoint.

The store holds no global state: the app makes one and hands it to whoever needs it.
"""

from __future__ import annotations

import os
import queue
import re
import socket
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from studio.config import StudioConfig
from studio.errors import StudioError
from studio.runfolder import RunFolder


@dataclass
class RunInfo:
    id: str
    path: str
    state: str  # queued | running | finished | stopped | failed | interrupted
    step: int
    max_steps: int
    owner: str
    task: str
    method: str
    model: str
    created: float
    message: str
    has_model: bool
    can_resume: bool

    def to_dict(self) -> dict:
        return asdict(self)


def _slug(text: str) -> str:
    s = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()
    return s[:40] or "run"


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, TypeError, ValueError):
        return False
    return True


class RunStore:
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._jobs: queue.Queue = queue.Queue()
        self._stops: dict[str, threading.Event] = {}
        self._mine: set[str] = set()  # runs queued or running in this store's worker
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    # ---- looking ---------------------------------------------------------------------------
    def folder(self, run_id: str) -> RunFolder:
        if not run_id or "/" in run_id or run_id.startswith("."):
            raise StudioError(f"not a run name: {run_id!r}")
        path = self.root / run_id
        if not (path / "config.yaml").exists():
            raise StudioError(f"no run named '{run_id}' in {self.root}")
        return RunFolder(path)

    def info(self, run_id: str) -> RunInfo:
        folder = self.folder(run_id)
        status = folder.read_status()
        try:
            cfg = StudioConfig.load(folder.config_file)
        except StudioError:
            cfg = StudioConfig()
        state = status.get("state", "queued")
        if state in ("running", "queued") and not self._alive(run_id, status):
            state = "interrupted"
        return RunInfo(
            id=run_id, path=str(folder.path), state=state, step=int(status.get("step") or 0),
            max_steps=int(status.get("max_steps") or 0), owner=status.get("owner", cfg.owner),
            task=cfg.task, method=cfg.method, model=cfg.model.source, created=float(status.get("started") or folder.config_file.stat().st_mtime),
            message=status.get("message", ""), has_model=folder.has_model(),
            can_resume=state in ("stopped", "interrupted", "failed"),
        )

    def _alive(self, run_id: str, status: dict) -> bool:
        if run_id in self._mine:
            return True
        pid = status.get("pid")
        # A run written by another live process on this machine (the CLI, another app) is still going.
        return pid != os.getpid() and status.get("host") == socket.gethostname() and _pid_alive(pid)

    def list(self, owner: str | None = None) -> list[RunInfo]:
        """Every run, newest first; with ``owner``, only that owner's runs."""
        out = []
        for path in self.root.iterdir():
            if path.is_dir() and (path / "config.yaml").exists():
                info = self.info(path.name)
                if owner is None or info.owner == owner:
                    out.append(info)
        return sorted(out, key=lambda r: r.created, reverse=True)

    def events(self, run_id: str, types: tuple[str, ...] | None = None) -> list[dict]:
        return self.folder(run_id).read_events(types)

    def check_owner(self, run_id: str, owner: str | None) -> None:
        if owner is not None and self.info(run_id).owner != owner:
            raise StudioError(f"run '{run_id}' belongs to someone else")

    # ---- starting and stopping -------------------------------------------------------------
    def new_id(self, name: str = "") -> str:
        base = f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(name or 'run')}"
        run_id, n = base, 1
        while (self.root / run_id).exists():
            n += 1
            run_id = f"{base}-{n}"
        return run_id

    def submit(self, config: StudioConfig, name: str = "", owner: str = "") -> str:
        """Queue a new run; returns its id. Its folder exists (state queued) when this returns."""
        from studio import tasks

        tasks.check(config)
        run_id = self.new_id(name or Path(config.data.train).stem)
        config.output_dir = str(self.root / run_id)
        config.owner = owner
        folder = RunFolder(config.output_dir)
        folder.path.mkdir(parents=True)
        config.save(folder.config_file)  # visible in the list at once; training rewrites it resolved
        folder.write_status(state="queued", step=0, owner=owner, message="waiting for the device", started=time.time())
        self._enqueue(run_id, config)
        return run_id

    def resume(self, run_id: str, owner: str | None = None) -> str:
        self.check_owner(run_id, owner)
        info = self.info(run_id)
        if info.state in ("running", "queued"):
            raise StudioError(f"run '{run_id}' is already {info.state}")
        folder = self.folder(run_id)
        config = StudioConfig.load(folder.config_file)
        config.train.resume = True
        folder.write_status(state="queued", message="waiting for the device")
        self._enqueue(run_id, config)
        return run_id

    def stop(self, run_id: str, owner: str | None = None) -> None:
        """Ask a run to stop after its current step (it keeps a checkpoint and its model so far)."""
        self.check_owner(run_id, owner)
        folder = self.folder(run_id)
        folder.request_stop()  # also reaches a run in another process
        with self._lock:
            ev = self._stops.get(run_id)
        if ev is not None:
            ev.set()

    def wait(self, run_id: str, timeout: float | None = None) -> RunInfo:
        """Block until the run is no longer queued or running (for scripts and tests)."""
        deadline = None if timeout is None else time.time() + timeout
        while True:
            info = self.info(run_id)
            if info.state not in ("queued", "running"):
                return info
            if deadline is not None and time.time() > deadline:
                return info
            time.sleep(0.2)

    def _enqueue(self, run_id: str, config: StudioConfig) -> None:
        with self._lock:
            self._mine.add(run_id)
            self._stops[run_id] = threading.Event()
            self._jobs.put((run_id, config))
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name=f"studio-runs-{self.root.name}", daemon=True)
                self._worker.start()

    def _work(self) -> None:
        from studio.train import run_training

        while True:
            try:
                run_id, config = self._jobs.get(timeout=5)
            except queue.Empty:
                with self._lock:
                    if self._jobs.empty():
                        self._worker = None
                        return
                continue
            stop = self._stops.get(run_id)
            try:
                if stop is not None and stop.is_set():
                    RunFolder(config.output_dir).write_status(state="stopped", message="stopped before it started")
                else:
                    run_training(config, stop=stop)
            except BaseException:  # noqa: BLE001 - recorded in the run folder by run_training
                pass
            finally:
                with self._lock:
                    self._mine.discard(run_id)
                    self._stops.pop(run_id, None)
                self._release_memory()

    @staticmethod
    def _release_memory() -> None:
        import gc

        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass

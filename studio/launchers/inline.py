"""Training inside the calling process, in a thread (tests, notebooks, a plug-in task registered in this
process). A crash here takes the caller with it and memory is only freed as far as Python frees it: the web
app and the CLI use a process per run (``local``) unless told otherwise.

Runs of this launcher take turns within a process: a trainer keeps its device state in one object per process
(accelerate's ``AcceleratorState``), and a second trainer set up while the first trains resets it under the first,
which then fails (``AcceleratorState object has no attribute distributed_type``). A run waiting for its turn stays
queued in its folder."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

from studio.core.errors import StudioError
from studio.core.runfolder import RunFolder
from studio.launchers.base import Launcher


_TURN = threading.Lock()  # one in-process training at a time, whichever launcher instance started it


class InlineLauncher(Launcher):
    kind = "inline"
    in_process = True

    def __init__(self):
        self._runs: dict[str, tuple[threading.Thread, threading.Event]] = {}
        self._lock = threading.Lock()

    def launch(self, run_dir, env: dict | None = None, resume: bool = False) -> dict:
        from studio.core.config import StudioConfig
        from studio.engine.train import run_training

        run_dir = Path(run_dir).resolve()
        config = StudioConfig.load(run_dir / "config.yaml")
        config.output_dir = str(run_dir)
        config.train.resume = resume
        stop = threading.Event()

        def work():
            with _TURN:
                try:
                    folder = RunFolder(run_dir)
                    if stop.is_set() or folder.stop_requested():  # stopped while it waited for its turn
                        folder.clear_stop()
                        folder.write_status(state="stopped", message="stopped before it started")
                    else:
                        run_training(config, stop=stop, keep_stop=True)
                except BaseException:  # noqa: BLE001 - recorded in the run folder by run_training
                    pass
                finally:
                    _release_memory()

        thread = threading.Thread(target=work, name=f"studio-run-{run_dir.name}", daemon=True)
        with self._lock:
            self._runs[str(run_dir)] = (thread, stop)
        thread.start()
        return {"kind": self.kind, "pid": os.getpid(), "host": socket.gethostname(), "run": str(run_dir)}

    def check(self, config, gpus: int, cpus: int) -> list[str]:
        if config.launch.processes * config.launch.nodes > 1:
            raise StudioError(f"launch.backend={self.kind} trains in one process; use launch.backend=local for several "
                              "processes")
        return []

    def can_adopt(self, handle: dict) -> bool:
        return False  # a thread of the process that started it: no other store can follow it

    def _entry(self, handle: dict):
        with self._lock:
            return self._runs.get(handle.get("run", ""))

    def alive(self, handle: dict) -> bool:
        entry = self._entry(handle)
        if entry is not None:
            return entry[0].is_alive()
        if handle.get("pid") == os.getpid():
            return False  # a thread of this process that this launcher did not start: gone with an earlier store
        return super().alive(handle)  # another process's inline run (e.g. a CLI run)

    def exit_code(self, handle: dict) -> int | None:
        entry = self._entry(handle)
        return 0 if entry is not None and not entry[0].is_alive() else None

    def stop(self, handle: dict, grace: float = 5.0) -> None:
        """A thread cannot be killed: the stop signal is all there is (it ends after the current step)."""
        entry = self._entry(handle)
        if entry is not None:
            entry[1].set()


LAUNCHER = InlineLauncher


def _release_memory() -> None:
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass

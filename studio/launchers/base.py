"""The launcher contract: where a run trains.

A launcher starts the training entry point (``python -m studio.engine RUN_DIR``) for a prepared run folder,
can tell whether it still runs, and can stop it. What it started is described by a *handle*, a small JSON
dict that the run store writes into the run's ``status.json`` under ``launch``, so that any process (the app
after a restart, the CLI, another app) can follow the run later:

    handle = {"kind": "local", "pid": 1234, "host": "gpu-box", "started": 98765, "argv": [...], "log": "train.log"}

    launch(run_dir, env, resume) -> handle     start it; raise StudioError when it cannot start
    alive(handle) -> bool                      still training?
    exit_code(handle) -> int | None            how it ended, when this launcher started it and it has ended
    stop(handle, grace) -> None                end it now: SIGTERM to its process group, SIGKILL after ``grace`` s
    forget(handle) -> None                     drop what it kept about a run that has ended
    check(config, gpus, cpus) -> warnings      its own part of the ``launch`` section (raise StudioError when wrong)
    can_adopt(handle) -> bool                  whether a store that did not start the run may follow it (a restart)
    local_slot                                 whether a run it starts takes a slot of this machine's devices (a GPU,
                                               a CPU turn); False when a cluster schedules it
    in_process                                 whether it trains inside the calling process (never from the page)

Every launcher starts the same command, ``engine_argv(run_dir, resume)`` after a Python, with the studio on
``studio_pythonpath()``. A module of ``studio/launchers/`` exposes its launcher as ``LAUNCHER``.

The polite stop (finish the current step, save a checkpoint and the model) is the run folder's STOP file,
which every launcher's run reads; ``stop`` is the escalation the run store uses when that is not enough.
Launchers hold no global state: the run store owns one of each kind it uses.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from studio.core.procs import process_alive

ELSEWHERE_GPUS = "STUDIO_CLUSTER_GPUS"  # in a grant's env for a launcher that takes no local slot


def engine_argv(run_dir, resume: bool = False) -> list[str]:
    """The training entry point for one process, after the Python that runs it: ``-m studio.engine RUN_DIR``."""
    return ["-m", "studio.engine", str(Path(run_dir).resolve())] + (["--resume"] if resume else [])


def studio_pythonpath(pythonpath: str = "") -> str:
    """``PYTHONPATH`` with the studio first, so that a run's process imports it wherever it runs."""
    repo = str(Path(__file__).resolve().parents[2])
    return os.pathsep.join(p for p in (repo, pythonpath or "") if p)


class Launcher:
    kind: str = ""
    local_slot: bool = True  # a run it starts takes a slot of this machine's devices (the scheduler asks here)
    in_process: bool = False  # it trains inside the calling process (a crash takes the caller with it)

    def launch(self, run_dir, env: dict | None = None, resume: bool = False) -> dict:
        raise NotImplementedError

    def alive(self, handle: dict) -> bool:
        return process_alive(handle.get("pid"), handle.get("host"), handle.get("started"))

    def exit_code(self, handle: dict) -> int | None:
        return None

    def forget(self, handle: dict) -> None:
        """Drop what this launcher kept about a run that has ended."""

    def check(self, config, gpus: int, cpus: int) -> list[str]:
        """Its own checks of ``config.launch`` before anything starts: raise StudioError, return warnings."""
        return []

    def can_adopt(self, handle: dict) -> bool:
        """Whether a store that did not start this run (the app after a restart) may follow it until it ends."""
        return True

    def stop(self, handle: dict, grace: float = 5.0) -> None:
        """SIGTERM to the run's process group (the run saves what it can), SIGKILL after ``grace`` seconds."""
        pid = handle.get("pid")
        if not pid or handle.get("host") not in (None, socket.gethostname()) or not self.alive(handle):
            return
        pgid = handle.get("pgid") or pid
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.time() + grace
        while time.time() < deadline:
            if not self.alive(handle):
                return
            time.sleep(0.1)
        _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig) -> None:
    try:
        os.killpg(int(pgid), sig)
    except (ProcessLookupError, PermissionError, ValueError):
        pass


def record_exit(folder, code: int | None) -> dict:
    """After a run's processes ended: if they left no final status (killed, crashed), write why and what to do
    into its run folder. Returns the status."""
    status = folder.read_status()
    if status.get("state") in ("running", "queued"):
        message, hint = exit_reason(code)
        folder.emit({"type": "error", "message": message, "hint": hint, "exit_code": code})
        status = folder.write_status(state="failed", message=message, hint=hint)
    return status


def exit_reason(code: int | None) -> tuple[str, str]:
    """(message, what to do) for a training process that ended without writing a final status."""
    if code is None:
        return ("the training process ended without a word (the app restarted, or it was killed)",
                "resume it: it continues from its last checkpoint")
    if code < 0:
        sig = -code
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else f"signal {sig}"
        if sig == signal.SIGKILL:
            return (f"the training process was killed ({name}), most often by the system's out-of-memory killer",
                    "lower the batch size or max length, or use lora instead of full, then resume it")
        if sig == signal.SIGSEGV:
            return (f"the training process crashed ({name}) inside a native library (CUDA, bitsandbytes)",
                    "see train.log in the run folder; resume it, or try method=lora or another precision")
        return (f"the training process was ended by {name}", "resume it: it continues from its last checkpoint")
    return (f"the training process exited with code {code}", "see train.log in the run folder, fix the cause and resume it")

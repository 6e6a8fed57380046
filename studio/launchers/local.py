"""A process per run on this machine (the default): ``python -m studio.engine RUN_DIR`` in its own process group,
its output in ``train.log`` in the run folder. With ``launch.processes`` above 1 (or several nodes) the same
entry point runs under torchrun, one process per device, data-parallel; only rank 0 writes the run folder."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import threading
from pathlib import Path

from studio.core.config import StudioConfig
from studio.core.procs import start_time
from studio.core.errors import StudioError
from studio.launchers.base import Launcher, engine_argv, studio_pythonpath

LOG_FILE = "train.log"
COMMAND_FILE = "launch.sh"  # the exact per-node commands, for running nodes 1..N by hand or through a scheduler
DEFAULT_PORT = 29500


def torchrun_argv(config: StudioConfig, run_dir, node_rank: int = 0, resume: bool = False) -> list[str]:
    """``python -m torch.distributed.run ...`` for one node of a multi-process run."""
    lc = config.launch
    host, _, port = (lc.address or "127.0.0.1").partition(":")
    args = ["-m", "torch.distributed.run", f"--nproc_per_node={lc.processes}", f"--nnodes={lc.nodes}",
            f"--node_rank={node_rank}", f"--master_addr={host}", f"--master_port={port or DEFAULT_PORT}"]
    return args + engine_argv(run_dir, resume)


def node_commands(config: StudioConfig, run_dir, resume: bool = False) -> list[str]:
    """One shell command per node (node 0 first), to run by hand on each machine of a multi-node run."""
    return [" ".join(shlex.quote(a) for a in ["python"] + torchrun_argv(config, run_dir, rank, resume))
            for rank in range(config.launch.nodes)]


class LocalLauncher(Launcher):
    kind = "local"

    def __init__(self):
        self._children: dict[int, subprocess.Popen] = {}  # what this launcher started, to read exit codes
        self._lock = threading.Lock()

    def launch(self, run_dir, env: dict | None = None, resume: bool = False) -> dict:
        run_dir = Path(run_dir).resolve()
        config = StudioConfig.load(run_dir / "config.yaml")
        lc = config.launch
        if lc.processes * lc.nodes > 1:
            argv = [sys.executable] + torchrun_argv(config, run_dir, 0, resume)
            cmds = node_commands(config, run_dir, resume)
            (run_dir / COMMAND_FILE).write_text(
                "#!/bin/sh\n# One line per node; run node N's line on machine N (node 0 is started by the studio).\n"
                + "\n".join(f"# node {i}\n{c}" for i, c in enumerate(cmds)) + "\n", encoding="utf-8")
        else:
            argv = [sys.executable] + engine_argv(run_dir, resume)
        full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        full_env["PYTHONPATH"] = studio_pythonpath(full_env.get("PYTHONPATH", ""))
        log = open(run_dir / LOG_FILE, "ab")
        try:
            proc = subprocess.Popen(argv, cwd=str(run_dir), env=full_env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as err:
            raise StudioError(f"could not start the training process: {err}") from err
        finally:
            log.close()
        with self._lock:
            self._children[proc.pid] = proc
        return {"kind": self.kind, "pid": proc.pid, "pgid": proc.pid, "host": socket.gethostname(),
                "started": start_time(proc.pid), "argv": argv, "log": LOG_FILE,
                "devices": (env or {}).get("CUDA_VISIBLE_DEVICES")}

    def _child(self, handle: dict) -> subprocess.Popen | None:
        with self._lock:
            return self._children.get(handle.get("pid"))

    def alive(self, handle: dict) -> bool:
        proc = self._child(handle)
        if proc is not None:
            return proc.poll() is None
        return super().alive(handle)

    def exit_code(self, handle: dict) -> int | None:
        proc = self._child(handle)
        return proc.poll() if proc is not None else None

    def forget(self, handle: dict) -> None:
        with self._lock:
            self._children.pop(handle.get("pid"), None)


LAUNCHER = LocalLauncher

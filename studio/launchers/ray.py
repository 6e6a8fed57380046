"""A run as a Ray job (``pip install '.[ray]'``; ``launch.backend: ray``, ``launch.address``: the Ray dashboard
address, e.g. ``http://head-node:8265``). The job runs the same entry point, ``python -m studio.engine RUN_DIR``,
on the cluster; the run folder must be on storage the cluster's nodes share (an NFS mount, a bucket mounted at
the same path), and the studio must be installed there at the same Python path (the same container image), or
``STUDIO_RAY_PYTHON`` names the cluster's Python. Stop stops the job (Ray ends it with SIGTERM, then SIGKILL)."""

from __future__ import annotations

import importlib.util
import os
import shlex
import socket
import sys
from pathlib import Path

from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.launchers.base import Launcher, engine_argv, studio_pythonpath
from studio.launchers.base import ELSEWHERE_GPUS

PASSED_ENV = ("HF_HUB_OFFLINE", "HF_HOME", "STUDIO_CACHE", "TOKENIZERS_PARALLELISM", "PYTHONPATH", "HF_TOKEN")
ACTIVE = ("PENDING", "RUNNING")


def _client(address: str):
    try:
        from ray.job_submission import JobSubmissionClient
    except ImportError:
        raise StudioError("launch.backend=ray needs Ray: pip install '.[ray]' (or pip install 'ray[default]')") from None
    try:
        return JobSubmissionClient(address)
    except Exception as err:  # noqa: BLE001 - ConnectionError and friends, said in words
        raise StudioError(f"could not reach the Ray cluster at {address} ({type(err).__name__}); check launch.address "
                          "(the dashboard address, e.g. http://head-node:8265) and that the cluster is up") from None


def _gpus(config: StudioConfig, env: dict) -> int:
    """GPUs to ask the cluster for: what the scheduler says (``launch.processes`` on a GPU studio, none on a CPU one);
    from the command line, ``launch.processes`` when this process was given GPUs."""
    if ELSEWHERE_GPUS in env:
        return int(env[ELSEWHERE_GPUS] or 0)
    return config.launch.processes if env.get("CUDA_VISIBLE_DEVICES") else 0


class RayLauncher(Launcher):
    kind = "ray"
    local_slot = False  # the cluster schedules its jobs: a Ray run takes none of this machine's GPUs or CPU turns

    def __init__(self):
        self._clients: dict[str, object] = {}

    def client(self, address: str):
        if address not in self._clients:
            self._clients[address] = _client(address)
        return self._clients[address]

    def check(self, config, gpus: int, cpus: int) -> list[str]:
        if importlib.util.find_spec("ray") is None:
            raise StudioError("launch.backend=ray needs Ray: pip install '.[ray]' (or pip install 'ray[default]')")
        if not config.launch.address:
            raise StudioError("launch.backend=ray needs launch.address, the Ray dashboard address, e.g. http://head:8265")
        _client(config.launch.address)  # unreachable: said now, not when the run should start
        return []

    def launch(self, run_dir, env: dict | None = None, resume: bool = False) -> dict:
        run_dir = Path(run_dir).resolve()
        config = StudioConfig.load(run_dir / "config.yaml")
        address = config.launch.address
        client = self.client(address)
        python = os.environ.get("STUDIO_RAY_PYTHON") or sys.executable
        entry = [python] + engine_argv(run_dir, resume)
        env_vars = {k: os.environ[k] for k in PASSED_ENV if os.environ.get(k)}
        env_vars["PYTHONPATH"] = studio_pythonpath(env_vars.get("PYTHONPATH", ""))
        gpus = _gpus(config, env or {})
        try:
            job_id = client.submit_job(entrypoint=" ".join(shlex.quote(a) for a in entry),
                                       runtime_env={"env_vars": env_vars}, entrypoint_num_gpus=gpus or None,
                                       entrypoint_num_cpus=1, submission_id=f"studio-{run_dir.name}-{os.getpid()}-{int(__import__('time').time())}",
                                       metadata={"studio_run": str(run_dir)})
        except Exception as err:  # noqa: BLE001
            raise StudioError(f"the Ray cluster at {address} refused the job: {str(err).splitlines()[0]}") from None
        return {"kind": self.kind, "job_id": job_id, "address": address, "host": socket.gethostname(), "argv": entry}

    def _status(self, handle: dict) -> str | None:
        try:
            return str(self.client(handle["address"]).get_job_status(handle["job_id"])).rsplit(".", 1)[-1]
        except StudioError:
            return None
        except Exception:  # noqa: BLE001 - an unknown job or a cluster that went away
            return None

    def alive(self, handle: dict) -> bool:
        return self._status(handle) in ACTIVE

    def exit_code(self, handle: dict) -> int | None:
        return {"SUCCEEDED": 0, "FAILED": 1, "STOPPED": -15}.get(self._status(handle) or "")

    def stop(self, handle: dict, grace: float = 5.0) -> None:
        try:
            self.client(handle["address"]).stop_job(handle["job_id"])
        except Exception:  # noqa: BLE001 - already gone
            pass

    def logs(self, handle: dict) -> str:
        try:
            return self.client(handle["address"]).get_job_logs(handle["job_id"])
        except Exception:  # noqa: BLE001
            return ""


LAUNCHER = RayLauncher

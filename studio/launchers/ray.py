"""A run as a Ray job (``pip install '.[ray]'``; ``launch.backend: ray``, ``launch.address``: the Ray dashboard
address, e.g. ``http://head-node:8265``). The job runs the same entry point, ``python -m studio.engine RUN_DIR``,
on the cluster; the run folder must be on storage the cluster's nodes share (an NFS mount, a bucket mounted at
the same path), and the studio must be installed there at the same Python path (the same container image), or
``STUDIO_RAY_PYTHON`` names the cluster's Python. Stop stops the job (Ray ends it with SIGTERM, then SIGKILL)."""

from __future__ import annotations

import os
import shlex
import socket
import sys
from pathlib import Path

from studio.config import StudioConfig
from studio.errors import StudioError
from studio.launchers.base import Launcher

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


class RayLauncher(Launcher):
    kind = "ray"

    def __init__(self):
        self._clients: dict[str, object] = {}

    def client(self, address: str):
        if address not in self._clients:
            self._clients[address] = _client(address)
        return self._clients[address]

    def launch(self, run_dir, env: dict | None = None, resume: bool = False) -> dict:
        run_dir = Path(run_dir).resolve()
        config = StudioConfig.load(run_dir / "config.yaml")
        address = config.launch.address
        client = self.client(address)
        python = os.environ.get("STUDIO_RAY_PYTHON") or sys.executable
        entry = [python, "-m", "studio.engine", str(run_dir)] + (["--resume"] if resume else [])
        env_vars = {k: os.environ[k] for k in PASSED_ENV if os.environ.get(k)}
        repo = str(Path(__file__).resolve().parents[2])
        env_vars["PYTHONPATH"] = os.pathsep.join(p for p in (repo, env_vars.get("PYTHONPATH", "")) if p)
        gpus = config.launch.processes if (env or {}).get("CUDA_VISIBLE_DEVICES") else 0
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

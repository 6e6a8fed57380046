"""The device scheduler: which queued run may start now, and on which devices.

On a machine with N GPUs each run gets its own ``CUDA_VISIBLE_DEVICES``; a run that asks for k GPUs
(``launch.processes``) waits until k are free. With sharing on (``STUDIO_SHARE_GPUS=1``), a one-GPU run may join
a GPU that is in use when the memory estimates of the runs on it, its own included, fit in that GPU's memory.
On a CPU machine runs take turns: one at a time, or ``STUDIO_CPU_RUNS`` at once, each then given its share of the
cores (``OMP_NUM_THREADS``, unless the operator set it): two runs that each take every core run slower together
than one after the other.

A run whose launcher says it takes no slot here (``Launcher.local_slot`` False: a Ray job, which its cluster
schedules) starts at once and holds none of this machine's GPUs or CPU turns.

The device list comes from ``STUDIO_GPUS`` when set (e.g. ``0,1,2,3``, or ``none``; also how tests simulate a
GPU machine on a CPU), else from ``nvidia-smi`` (the web process never imports torch for this).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field

from studio.core.hardware import cpu_cores
from studio.launchers.base import ELSEWHERE_GPUS


@dataclass
class Grant:
    run_id: str
    gpus: list[str]
    memory: float = 0.0  # the estimate it was admitted with, in bytes (shared GPUs only)
    threads: int = 0  # CPU threads for a run that shares the CPU with others (0: all of them)
    elsewhere: bool = False  # it trains off this machine's devices (its launcher takes no local slot)
    wanted: int = 0  # GPUs a run trained elsewhere asks its cluster for (0: none, as on a CPU studio)

    def env(self) -> dict:
        """What the run's processes get: the GPUs it may see (none on a CPU run), and a CPU run's share of the cores;
        for a run trained elsewhere, only how many GPUs to ask its cluster for (``ELSEWHERE_GPUS``)."""
        if self.elsewhere:
            return {ELSEWHERE_GPUS: str(self.wanted)}
        if self.gpus:
            return {"CUDA_VISIBLE_DEVICES": ",".join(self.gpus)}
        env = {"CUDA_VISIBLE_DEVICES": ""}
        if self.threads and not os.environ.get("OMP_NUM_THREADS"):
            env.update(OMP_NUM_THREADS=str(self.threads), MKL_NUM_THREADS=str(self.threads))
        return env


@dataclass
class Devices:
    gpus: list[str] = field(default_factory=list)
    gpu_memory: float = 0.0  # bytes per GPU, for sharing
    cpu_runs: int = 1
    share: bool = False

    def __post_init__(self):
        self._lock = threading.Lock()
        self._grants: dict[str, Grant] = {}

    @classmethod
    def detect(cls) -> "Devices":
        names = os.environ.get("STUDIO_GPUS")
        memory = float(os.environ.get("STUDIO_GPU_MEMORY_GB", "0") or 0) * 2**30
        if names is not None:
            gpus = [] if names.strip().lower() in ("", "none") else [g.strip() for g in names.split(",") if g.strip()]
        else:
            gpus, found_memory = _nvidia_smi()
            memory = memory or found_memory
        return cls(gpus=gpus, gpu_memory=memory, cpu_runs=max(1, int(os.environ.get("STUDIO_CPU_RUNS", "1") or 1)),
                   share=os.environ.get("STUDIO_SHARE_GPUS", "").strip().lower() in ("1", "true", "yes", "on"))

    # ---- asking --------------------------------------------------------------------------------------
    def acquire(self, run_id: str, want: int = 1, memory: float = 0.0, launcher=None) -> Grant | None:
        """Devices for a run, or None when it must wait. ``want``: GPUs it needs; ``memory``: its estimate;
        ``launcher``: the one that will start it, asked whether the run takes a slot here at all."""
        if launcher is not None and not launcher.local_slot:
            return Grant(run_id, [], elsewhere=True, wanted=max(1, want) if self.gpus else 0)  # nothing held here
        with self._lock:
            if run_id in self._grants:
                return self._grants[run_id]
            if not self.gpus:
                if len(self._grants) >= self.cpu_runs:
                    return None
                grant = Grant(run_id, [], threads=max(1, cpu_cores() // self.cpu_runs) if self.cpu_runs > 1 else 0)
            else:
                grant = self._pick(run_id, max(1, want), memory)
                if grant is None:
                    return None
            self._grants[run_id] = grant
            return grant

    def _pick(self, run_id: str, want: int, memory: float) -> Grant | None:
        used = {g: [x for x in self._grants.values() if g in x.gpus] for g in self.gpus}
        free = [g for g in self.gpus if not used[g]]
        if len(free) >= want:
            return Grant(run_id, free[:want], memory)
        if self.share and want == 1 and memory and self.gpu_memory:
            for g in self.gpus:  # the fullest GPU that still fits it, so that whole GPUs stay free for big runs
                holders = used[g]
                if holders and all(h.memory for h in holders) and sum(h.memory for h in holders) + memory <= self.gpu_memory:
                    return Grant(run_id, [g], memory)
        return None

    def reserve(self, run_id: str, gpus: list[str], memory: float = 0.0) -> None:
        """Mark devices as taken by a run that is already training (found again after a restart)."""
        with self._lock:
            self._grants[run_id] = Grant(run_id, [g for g in gpus if g in self.gpus] if self.gpus else [], memory)

    def release(self, run_id: str) -> None:
        with self._lock:
            self._grants.pop(run_id, None)

    def busy(self) -> dict[str, list[str]]:
        with self._lock:
            return {k: list(v.gpus) for k, v in self._grants.items()}

    def describe(self) -> str:
        if not self.gpus:
            return f"CPU, {self.cpu_runs} run(s) at a time"
        return f"{len(self.gpus)} GPU(s): {', '.join(self.gpus)}" + (" (small runs may share)" if self.share else "")


def _nvidia_smi() -> tuple[list[str], float]:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return [], 0.0
    try:
        out = subprocess.run([exe, "--query-gpu=index,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return [], 0.0
    gpus, memory = [], []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0].isdigit():
            gpus.append(parts[0])
            try:
                memory.append(float(parts[1]) * 2**20)
            except ValueError:
                pass
    return gpus, min(memory) if memory else 0.0

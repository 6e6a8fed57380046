"""Launchers: where runs train. ``base`` holds the contract; one module per kind:

- ``local``   a process per run on this machine (default); several processes or nodes through torchrun
- ``inline``  a thread of the calling process (tests, notebooks)
- ``ray``     a job on a Ray cluster (``pip install .[ray]``)

``make(kind)`` gives a new launcher (the run store keeps one per kind); ``check(config, devices)`` says what is
wrong with a config's ``launch`` section before anything starts. Something else (Slurm, SkyPilot, Kubernetes)
plugs in as one more module with ``launch``, ``alive``, ``exit_code`` and ``stop``.
"""

from __future__ import annotations

import importlib
import importlib.util

from studio.errors import StudioError
from studio.launchers.base import Launcher, exit_reason, record_exit

KINDS = {"local": ("studio.launchers.local", "LocalLauncher"), "inline": ("studio.launchers.inline", "InlineLauncher"),
         "ray": ("studio.launchers.ray", "RayLauncher")}


def make(kind: str) -> Launcher:
    if kind not in KINDS:
        raise StudioError(f"launch.backend: unknown backend '{kind}'; use one of {', '.join(KINDS)}")
    module, name = KINDS[kind]
    return getattr(importlib.import_module(module), name)()


def check(config, gpus: int, cpus: int) -> list[str]:
    """Raise StudioError for a ``launch`` section that cannot run here; return warnings. ``gpus``: CUDA devices
    this machine offers to runs (0 on a CPU machine); ``cpus``: its CPU cores."""
    lc = config.launch
    warnings = []
    world = lc.processes * lc.nodes
    if lc.backend == "inline" and world > 1:
        raise StudioError("launch.backend=inline trains in one process; use launch.backend=local for several processes")
    if gpus and lc.processes > gpus:
        raise StudioError(f"launch.processes={lc.processes} but this machine has {gpus} GPU(s); use at most {gpus} "
                          "processes per node (one per GPU)")
    if not gpus and lc.processes > max(1, cpus):
        raise StudioError(f"launch.processes={lc.processes} but this machine has no GPU and {cpus} CPU cores; "
                          "train with 1 process, or fewer processes than cores")
    if lc.nodes > 1 and not lc.address:
        raise StudioError("launch.nodes is above 1 but launch.address is empty; give node 0's host:port, "
                          "e.g. --set launch.address=10.0.0.1:29500")
    if world > 1 and lc.strategy != "ddp" and config.method == "qlora":
        raise StudioError(f"launch.strategy={lc.strategy} cannot shard a 4-bit QLoRA model here; use launch.strategy=ddp "
                          "(each device holds the small 4-bit model) or method=lora")
    if world > 1 and lc.strategy == "deepspeed" and importlib.util.find_spec("deepspeed") is None:
        raise StudioError("launch.strategy=deepspeed needs the deepspeed package: pip install deepspeed")
    if world > 1 and lc.strategy == "fsdp" and not gpus:
        raise StudioError("launch.strategy=fsdp needs CUDA GPUs; use launch.strategy=ddp on a CPU")
    if world == 1 and lc.strategy != "ddp":
        warnings.append(f"launch.strategy={lc.strategy} only matters with several processes; this run has one")
    if lc.backend == "ray":
        if importlib.util.find_spec("ray") is None:
            raise StudioError("launch.backend=ray needs Ray: pip install '.[ray]' (or pip install 'ray[default]')")
        if not lc.address:
            raise StudioError("launch.backend=ray needs launch.address, the Ray dashboard address, e.g. http://head:8265")
        from studio.launchers.ray import _client

        _client(lc.address)  # unreachable: said now, not when the run should start
    return warnings


__all__ = ["KINDS", "Launcher", "check", "exit_reason", "make", "record_exit"]

"""The launcher registry: every place a run can train, by kind. ``base`` holds the contract; the built-in kinds:

- ``local``   a process per run on this machine (default); several processes or nodes through torchrun
- ``inline``  a thread of the calling process (tests, notebooks)
- ``ray``     a job on a Ray cluster (``pip install .[ray]``)

Each module in ``studio/launchers/`` that exposes ``LAUNCHER`` (a ``Launcher`` class, or an instance, with a
``kind``) is found the first time a kind is looked up; a launcher defined elsewhere (a test, an extension) joins
with ``register(MyLauncher)``. The run store, the scheduler and the CLI ask here:

    make(kind) -> Launcher         a launcher of that kind (a new one for a class; the run store keeps one per kind),
                                   or a StudioError naming the known kinds
    find(kind) -> class | instance | None   what is registered for a kind, None when it is not installed
    kinds() -> list[str]           every registered kind, built-in ones first
    check(config, gpus, cpus) -> list[str]   what is wrong with a config's ``launch`` section before anything
                                   starts: the checks every run shares, then the run's launcher's own
                                   (``Launcher.check``); returns the warnings

Something else (Slurm, SkyPilot, Kubernetes) plugs in as one more module with a ``LAUNCHER``: no list here, in the
config or in the run store names the kinds.
"""

from __future__ import annotations

import importlib.util

from studio.core.plugins import Plugins
from studio.core.errors import StudioError
from studio.launchers.base import Launcher, engine_argv, exit_reason, record_exit

DEFAULT = "local"  # the kind of a handle that names none
BUILTIN_ORDER = ("local", "inline", "ray")  # the rest follow in name order

_plugins = Plugins(__name__, __path__, "LAUNCHER", "kind", "launcher", first=BUILTIN_ORDER, skip=("base",))


def register(launcher):
    """Add (or replace) a launcher: a ``Launcher`` class or instance with a ``kind``; returns it."""
    return _plugins.register(launcher)


def unregister(kind: str) -> None:
    _plugins.unregister(kind)


def kinds() -> list[str]:
    return _plugins.names()


def find(kind: str):
    return _plugins.find(kind)


def make(kind: str) -> Launcher:
    launcher = find(kind)
    if launcher is None:
        raise StudioError(f"launch.backend: unknown backend '{kind}'; use one of {', '.join(kinds())}")
    return launcher() if isinstance(launcher, type) else launcher


def check(config, gpus: int, cpus: int, kind: str | None = None) -> list[str]:
    """Raise StudioError for a ``launch`` section that cannot run here; return warnings. ``gpus``: CUDA devices
    this machine offers to runs (0 on a CPU machine); ``cpus``: its CPU cores; ``kind``: the launcher that will
    start the run (default: ``launch.backend``)."""
    lc = config.launch
    launcher = make(kind or lc.backend)
    warnings = []
    world = lc.processes * lc.nodes
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
    return warnings + list(launcher.check(config, gpus, cpus) or [])


__all__ = ["DEFAULT", "Launcher", "check", "engine_argv", "exit_reason", "find", "kinds", "make", "record_exit",
           "register", "unregister"]

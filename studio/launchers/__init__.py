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

import importlib
import importlib.util
import pkgutil
import threading

from studio.errors import StudioError
from studio.launchers.base import Launcher, engine_argv, exit_reason, record_exit

DEFAULT = "local"  # the kind of a handle that names none
BUILTIN_ORDER = ("local", "inline", "ray")  # the rest follow in name order

_launchers: dict[str, object] = {}  # the plug-in table: code, not user state; filled once, then only read
_found = False
_lock = threading.Lock()


def register(launcher):
    """Add (or replace) a launcher: a ``Launcher`` class or instance with a ``kind``; returns it."""
    kind = getattr(launcher, "kind", "")
    if not isinstance(kind, str) or not kind.isidentifier():
        raise ValueError(f"a launcher needs a kind that is a Python identifier, not {kind!r}")
    _discover()
    with _lock:
        _launchers[kind] = launcher
    return launcher


def unregister(kind: str) -> None:
    with _lock:
        _launchers.pop(kind, None)


def _discover() -> None:
    global _found
    if _found:
        return
    with _lock:
        if _found:
            return
        found = {}
        for mod in pkgutil.iter_modules(__path__):
            if mod.ispkg or mod.name == "base":
                continue
            launcher = getattr(importlib.import_module(f"{__name__}.{mod.name}"), "LAUNCHER", None)
            if launcher is not None and getattr(launcher, "kind", ""):
                found[launcher.kind] = launcher
        order = [k for k in BUILTIN_ORDER if k in found] + sorted(k for k in found if k not in BUILTIN_ORDER)
        for kind in order:
            _launchers.setdefault(kind, found[kind])
        _found = True


def kinds() -> list[str]:
    _discover()
    return list(_launchers)


def find(kind: str):
    _discover()
    return _launchers.get((kind or "").strip())


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

"""Is a process still there? One answer for the run store, the run folder and the launchers.

A run's status.json names the process that trains it (``pid``, ``host`` and, for runs started by a launcher,
``launch.started``: the process's start time, so that a recycled process id is not taken for the run).
"""

from __future__ import annotations

import os
import socket


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux ``/proc``), None where unknown."""
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="utf-8") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return int(fields[19])  # field 22 of stat; two fields (pid, comm) are before the ")"
    except (OSError, ValueError, IndexError):
        return None


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def process_alive(pid, host: str | None = None, started: int | None = None) -> bool:
    """True when process ``pid`` runs on this machine (``host`` when given must be this one), is not a zombie,
    and, when ``started`` is given, is the same process that was recorded (not a new one with a reused id)."""
    if not pid:
        return False
    if host and host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    except (OSError, ValueError, TypeError):
        return False
    if _zombie(int(pid)):
        return False
    if started is not None:
        now = start_time(int(pid))
        if now is not None and now != int(started):
            return False
    return True


def status_alive(status: dict) -> bool:
    """Whether the process a run's status names is still working on it (the launcher's handle when there is one)."""
    handle = status.get("launch") or {}
    if handle.get("pid"):
        return process_alive(handle["pid"], handle.get("host"), handle.get("started"))
    return process_alive(status.get("pid"), status.get("host"))

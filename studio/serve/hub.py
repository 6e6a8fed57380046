"""What a studio serves from its own page: for each person, the runs they switched on, loaded once.

The web studio mounts ``create_app(hub.models, gate=...)`` on its own server under ``/v1``; the gate turns a
request's API key into its owner, and ``models(owner)`` gives that owner's served runs only, so another person's run
reads exactly like one that does not exist. LoRA runs of one base model share one loaded copy of it across people
(each person's adapters on it, counted users; ``loading.load``/``release`` with the hub's base cache); full
fine-tunes are each person's own. No gradio here.
"""

from __future__ import annotations

import ipaddress
import threading

from studio.serve import backends, loading


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Hub:
    def __init__(self, device: str | None = None):
        self._device = device
        self._by_owner: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._changing = threading.Lock()  # one start or stop at a time: they load into and release the shared bases
        self._bases: dict = {}  # RunPlan.base_key -> loading.Loaded, shared by everyone serving on that base
        self.lines: list[str] = []  # what loading said (the backend line first), for the page and the log

    def device(self) -> str:
        if self._device is None:
            self._device, gpu = loading.pick_device()
            self.lines.append(backends.backend_line(self._device, gpu))
        return self._device

    def start(self, owner: str, run_dirs: list[str]) -> dict:
        """Serve these runs for ``owner`` (replacing what they served before); returns model id -> Served."""
        plans = loading.plan(run_dirs)
        with self._changing:
            served = loading.load(plans, self.device(), log=self.lines.append, bases=self._bases)
            with self._lock:
                old = self._by_owner.get(owner)
                self._by_owner[owner] = served
            loading.release(old, self._bases)
        return served

    def stop(self, owner: str) -> bool:
        with self._changing:
            with self._lock:
                old = self._by_owner.pop(owner, None)
            loading.release(old, self._bases)
        return old is not None

    def models(self, owner) -> dict:
        if owner is None:
            return {}
        with self._lock:
            return dict(self._by_owner.get(owner) or {})


"""What a studio serves from its own page: for each person, the runs they switched on, loaded once.

The web studio mounts ``create_app(hub.models, gate=...)`` on its own server under ``/v1``; the gate turns a
request's API key into its owner, and ``models(owner)`` gives that owner's served runs only, so another person's run
reads exactly like one that does not exist. LoRA runs of one base model share one loaded copy of it across people
(each person's adapters on it, counted users; ``loading.load``/``release`` with the hub's base cache); full
fine-tunes are each person's own, and so are runs served from their GGUF export in llama.cpp (``backends``). No
gradio here.
"""

from __future__ import annotations

import collections
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
        self._said: dict[str, list[str]] = {}  # owner -> what their start said (the backend line first)
        self._lock = threading.Lock()
        self._changing = threading.Lock()  # one start or stop at a time: they load into and release the shared bases
        self._gpu = ""
        self._bases: dict = {}  # RunPlan.base_key -> loading.Loaded, shared by everyone serving on that base
        self.lines: collections.deque = collections.deque(maxlen=500)  # what each start said, newest last (the log)

    def device(self) -> str:
        if self._device is None:
            self._device, self._gpu = loading.pick_device()
        return self._device

    def start(self, owner: str, run_dirs: list[str], backend: str = "transformers") -> dict:
        """Serve these runs for ``owner`` with ``backend`` (transformers, llamacpp or auto; replacing what they served
        before); returns model id -> Served. ``said(owner)`` is what this start said."""
        plans = loading.plan(run_dirs)
        device = self.device()
        chosen, why = backends.choose_backend(backend, plans, device, backends.PAGE)
        said = [backends.backend_line(device, self._gpu, chosen, why, plans, backends.PAGE)]
        with self._changing:
            try:
                served = backends.load(chosen, plans, device, log=said.append, bases=self._bases, words=backends.PAGE)
            finally:
                self.lines.extend(said)
            with self._lock:
                old = self._by_owner.get(owner)
                self._by_owner[owner], self._said[owner] = served, said
            backends.release(old, self._bases)
        return served

    def stop(self, owner: str) -> bool:
        with self._changing:
            with self._lock:
                old = self._by_owner.pop(owner, None)
                self._said.pop(owner, None)
            backends.release(old, self._bases)
        return old is not None

    def said(self, owner) -> list[str]:
        """What ``owner``'s current start said: its backend line (the backend it chose and why), then what loading
        said; empty when they serve nothing."""
        with self._lock:
            return list(self._said.get(owner) or [])

    def models(self, owner) -> dict:
        if owner is None:
            return {}
        with self._lock:
            return dict(self._by_owner.get(owner) or {})


"""The runs a server answers for, each loaded once.

LoRA runs of the same base model are named adapters on one loaded copy of that base (peft ``load_adapter``);
a request switches to its run's adapter (``set_adapter``) or switches adapters off for ``RUN:base``
(``disable_adapter``) while it holds the loaded model's lock, so each loaded model serves one request at a time.
A full fine-tune is a model of its own; its ``RUN:base`` is the loaded base (shared with LoRA runs of that base).
Given a ``bases`` cache (the web studio's ``Hub``), bases are shared across ``load`` calls too: each call counts as
one user of each base it uses, ``release`` takes its adapters off again (peft ``delete_adapter``) and closes a base
when its last user is gone.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from studio.core.errors import StudioError

BASE_SUFFIX = ":base"
_BATCHER_MADE = threading.Lock()


@dataclass
class RunPlan:
    """A run to serve, as its folder and config say (read before any model loads)."""
    id: str
    folder: object
    config: object
    task: object
    adapter: bool

    @property
    def base_key(self) -> tuple[str, bool]:
        return (self.config.model.source.strip(), bool(self.config.model.trust_remote_code))


@dataclass
class Loaded:
    """One model in memory, the lock that lets one batch at a time use it, and its batcher."""
    model: object
    device: str
    seq2seq: bool
    lock: threading.Lock = field(default_factory=threading.Lock)
    adapters: dict = field(default_factory=dict)  # peft adapter name -> run id
    users: int = 0  # the load calls that hold this model (a shared base: one per person serving on it)
    _names: object = field(default_factory=itertools.count, repr=False)
    _batcher: object = field(default=None, repr=False)

    @property
    def has_adapters(self) -> bool:
        return bool(self.adapters)

    @property
    def batcher(self):
        """The worker that runs this model's requests, batching those that arrive together (made on first use)."""
        with _BATCHER_MADE:
            if self._batcher is None:
                from studio.serve.batching import Batcher

                self._batcher = Batcher(self)
            return self._batcher

    def encode(self, tokenizer, text: str, add_special: bool) -> list[int]:
        return tokenizer(text, add_special_tokens=add_special)["input_ids"]

    def decode(self, tokenizer, ids: list[int]) -> str:
        return tokenizer.decode(ids, skip_special_tokens=True)

    def eos_ids(self, tokenizer) -> set:
        from studio.serve.batching import eos_ids

        return eos_ids(self.model, tokenizer)

    def close(self) -> None:
        """Stop this model's worker once its requests are answered (the model is freed when nothing holds it)."""
        if self._batcher is not None:
            self._batcher.close()

    def add_adapter(self, model_dir: str, run_id: str) -> str:
        """Load a LoRA run's adapter onto this base under a fresh name (peft names must be plain identifiers)."""
        name = f"run{next(self._names)}"
        from peft import PeftModel

        with self.lock:  # not while a batch runs on it
            if not isinstance(self.model, PeftModel):
                self.model = PeftModel.from_pretrained(self.model, model_dir, adapter_name=name).eval()
            else:
                self.model.load_adapter(model_dir, adapter_name=name)
            self.adapters[name] = run_id
        return name

    def remove_adapter(self, name: str) -> None:
        """Take an adapter off (peft ``delete_adapter``); with none left the plain base model is back."""
        with self.lock:
            if self.adapters.pop(name, None) is None:
                return
            if self.adapters:
                self.model.delete_adapter(name)
            else:
                self.model = self.model.unload().eval()


@dataclass
class Served:
    """A model id the API answers for: a loaded model, the run's tokenizer, and which adapter (if any) is on."""
    id: str
    run: str
    loaded: Loaded
    tokenizer: object
    adapter: str | None
    system_prompt: str | None
    context_length: int | None
    kind: str  # "lora", "full" or "base"

    def model_context(self):
        """Put the loaded model in this id's state; call with ``loaded.lock`` held."""
        model = self.loaded.model
        if self.adapter is not None:
            if self.adapter not in self.loaded.adapters:  # its owner stopped serving it while this request waited
                from studio.serve.errors import ApiError

                raise ApiError(404, f"The model '{self.id}' is no longer served", param="model", code="model_not_found")
            model.set_adapter(self.adapter, inference_mode=True)
            return contextlib.nullcontext()
        if self.loaded.has_adapters:
            return model.disable_adapter()
        return contextlib.nullcontext()


def plan(run_dirs: list[str]) -> list[RunPlan]:
    """Check every run before loading anything: a run folder with a model, tried in chat, a unique name."""
    from studio import tasks
    from studio.core.run import open_run

    plans: list[RunPlan] = []
    seen: dict[str, str] = {}
    for run_dir in run_dirs:
        folder, config = open_run(run_dir)
        task = tasks.get(config.task)
        if not task.chats:
            raise StudioError(f"{run_dir} is a {task.name} run, which does not write replies, so it cannot be served "
                              f"as a chat model; score it with: python -m studio eval {run_dir}")
        if not folder.has_model():
            raise StudioError(f"{run_dir} has no trained model yet (model/ is missing); train or resume it first")
        name = Path(run_dir).resolve().name
        if name in seen:
            raise StudioError(f"{seen[name]} and {run_dir} are both named '{name}', and a run's model id is its "
                              "folder name; serve one of them, or rename a folder")
        if ":" in name:
            raise StudioError(f"{run_dir}: a run folder whose name holds ':' cannot be served ('{name}{BASE_SUFFIX}' "
                              "names a run's base model); rename the folder")
        seen[name] = run_dir
        plans.append(RunPlan(name, folder, config, task, (folder.model_dir / "adapter_config.json").exists()))
    if not plans:
        raise StudioError("no runs given; name one or more run folders to serve")
    return plans


def pick_device() -> tuple[str, str]:
    import torch

    if torch.cuda.is_available():
        return "cuda", torch.cuda.get_device_name(0)
    return "cpu", ""


def context_length(model_config, tokenizer) -> int | None:
    """The most tokens the model reads and writes in one go, from its config (else its tokenizer's limit)."""
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(model_config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    value = getattr(tokenizer, "model_max_length", None)
    return value if isinstance(value, int) and 0 < value < 1_000_000 else None


def load(plans: list[RunPlan], device: str, log=print, bases: dict | None = None) -> dict[str, Served]:
    """Every run and its base, keyed by model id; a base model is loaded once for all its runs (and, given a
    ``bases`` cache keyed by ``RunPlan.base_key``, once for every call that shares the cache; ``release`` undoes)."""
    import torch

    from studio.core import models

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    bases = {} if bases is None else bases
    served: dict[str, Served] = {}
    used: dict[tuple[str, bool], Loaded] = {}
    try:
        for key in dict.fromkeys(p.base_key for p in plans):
            users = ", ".join(p.id for p in plans if p.base_key == key)
            if key in bases:
                log(f"base model {key[0]} is loaded already; shared with {users}")
            else:
                started = time.time()
                model = models.load_generator(key[0], key[1], dtype=dtype).to(device).eval()
                bases[key] = Loaded(model, device, bool(getattr(model.config, "is_encoder_decoder", False)))
                log(f"loaded base model {key[0]} once for {users} ({time.time() - started:.1f} s)")
            used[key] = bases[key]
            used[key].users += 1
        for p in plans:
            base = used[p.base_key]
            tokenizer = models.load_tokenizer(str(p.folder.model_dir), p.base_key[1])
            started = time.time()
            if p.adapter:
                loaded, kind = base, "lora"
                adapter = base.add_adapter(str(p.folder.model_dir), p.id)
                log(f"{p.id}: LoRA adapter on {p.base_key[0]} ({time.time() - started:.1f} s)")
            else:
                model = models.load_generator(str(p.folder.model_dir), p.base_key[1], dtype=dtype).to(device).eval()
                loaded, adapter, kind = Loaded(model, device, base.seq2seq, users=1), None, "full"
                log(f"{p.id}: full fine-tune, a model of its own ({time.time() - started:.1f} s)")
            system = _system_prompt(p, log)
            limit = context_length(loaded.model.config, tokenizer)
            served[p.id] = Served(p.id, p.id, loaded, tokenizer, adapter, system, limit, kind)
            served[p.id + BASE_SUFFIX] = Served(p.id + BASE_SUFFIX, p.id, base, tokenizer, None, system,
                                                context_length(base.model.config, tokenizer), "base")
    except BaseException:
        release(served, bases, list(used.values()))
        raise
    return served


def release(served: dict[str, Served] | None, bases: dict | None = None, held: list | None = None) -> None:
    """Undo one ``load``: its adapters come off their (shared) bases, its own models close, and a base closes and
    leaves ``bases`` when its last user is gone. ``held``: the bases it holds (else those its served ids name)."""
    served = served or {}
    for s in served.values():
        if s.kind == "lora":
            s.loaded.remove_adapter(s.adapter)
    if held is None:
        held = [s.loaded for s in served.values() if s.kind == "base"]
    held = list({id(m): m for m in [*held, *(s.loaded for s in served.values() if s.kind == "full")]}.values())
    for loaded in held:
        loaded.users -= 1
        if loaded.users <= 0:
            loaded.close()
            for key in [k for k, v in (bases or {}).items() if v is loaded]:
                del bases[key]


def _system_prompt(p: RunPlan, log) -> str | None:
    """The run's system prompt (the one its training data used), applied when a request brings none."""
    try:
        return p.task.system_prompt(p.config)
    except (StudioError, OSError) as err:
        log(f"{p.id}: no system prompt applied (its training data could not be read: {err})")
        return None

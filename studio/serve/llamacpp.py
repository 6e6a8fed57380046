"""The llama.cpp backend: each run's GGUF export in ``llama_cpp.Llama`` (the optional ``gguf`` extra).

Requests take the same path as with transformers (``studio.serve.api``: model ids, keys, limits, errors in OpenAI's
shape; ``studio.serve.generate.Reply``: stop strings, token counts, why a reply ended). The prompt is the run's chat
template rendered by the run's tokenizer (the template the export stores), read by llama.cpp's own tokenizer; a
worker thread per GGUF file writes one reply at a time, token by token, into the request's ``Job``
(llama-cpp-python's ``Llama`` has no batching of its own). Each run is served under its own id; its ``RUN:base`` is
not, as the export holds the merged model only.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import queue
import threading
import time
from pathlib import Path

from studio.core.errors import StudioError

GGUF_FOLDER = "export-gguf"  # where `python -m studio export RUN --gguf` and the Export tab write a run's GGUF
EXTRA = "pip install 'finetune-studio[gguf]'"
MAX_CONTEXT = 8192  # tokens of context at most (the KV cache grows with it); less where the model has less
_END = object()


def installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def gguf_file(folder) -> Path | None:
    """The run's GGUF export (the newest model file in RUN/export-gguf/, not a LoRA-only file), or None."""
    found = [p for p in (Path(folder.path) / GGUF_FOLDER).glob("*.gguf") if "-lora-" not in p.name]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def export_hint(plan, again: bool = False) -> str:
    """How to make a run's GGUF export (``again``: a newer one), as the command line says it."""
    command = f"python -m studio export {plan.folder.path} --gguf"
    return f"export it again to serve the latest weights: {command}" if again else f"make one with: {command}"


def why_not(plans, how=None) -> str | None:
    """Why llama.cpp cannot serve these runs here (what to install, or how to make the export); None if it can.
    ``how(plan, again=False)``: how to make a run's export, as whoever asked is told (default ``export_hint``)."""
    if not installed():
        return (f"llama.cpp is not installed here (the Python module llama_cpp); install the optional extra: {EXTRA} "
                "(it builds llama.cpp from source: a few minutes, with cmake and a C++ compiler)")
    missing = [p for p in plans if gguf_file(p.folder) is None]
    if missing:
        return (f"{', '.join(p.id for p in missing)} {'has' if len(missing) == 1 else 'have'} no GGUF export "
                f"({GGUF_FOLDER}/ in the run folder holds no .gguf file); {(how or export_hint)(missing[0])}")
    return None


def describe(plans) -> str:
    """What the first log line says about llama.cpp when it is chosen."""
    import llama_cpp

    where = "GPU and CPU" if llama_cpp.llama_supports_gpu_offload() else "CPU"
    files = ", ".join(f"{p.id}: {GGUF_FOLDER}/{gguf_file(p.folder).name}" for p in plans)
    threads = _threads()
    return (f"llama.cpp (llama-cpp-python {llama_cpp.__version__}) on {where}, {threads} thread{'s' * (threads > 1)}, "
            f"each run's GGUF export ({files}), one request at a time per file; RUN:base is not served (the export "
            "holds the merged model)")


def _threads() -> int:
    """Half the CPUs this process may use, as llama-cpp-python's default (one per physical core where each has two
    hardware threads). All of them can be far slower on a shared machine: llama.cpp's threads wait for each other by
    spinning, and one that loses its core stalls the rest (on a busy 2-core CPU, 1 thread wrote 50-70 tokens/s
    where 2 wrote 1-4)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cpus // 2)


class LlamaLoaded:
    """One GGUF file in llama.cpp, with what the request path asks of a loaded model (see ``loading.Loaded``).

    Once ``close`` is called (its owner switched it off), a new request gets the 404 of a model no longer served,
    the requests already submitted are answered, and the file is freed when nothing uses it any more (llama.cpp's
    memory is never freed under a call into it)."""

    seq2seq = False
    has_adapters = False

    def __init__(self, llm, path: Path, device: str, name: str = ""):
        self.model, self.path, self.device, self.name = llm, path, device, name
        self.lock = threading.Lock()
        self._worker = None
        self._made = threading.Lock()
        self._eos: set | None = None
        self._state = threading.Condition()
        self._closed = self._freed = False
        self._using = 0

    @contextlib.contextmanager
    def _use(self, closing_ok: bool = False):
        """The model, for one call into it: refused once freed, or once closing unless ``closing_ok`` (the work of
        requests submitted before ``close``)."""
        with self._state:
            if self._freed or (self._closed and not closing_ok):
                raise self._gone()
            self._using += 1
        try:
            yield self.model
        finally:
            with self._state:
                self._using -= 1
                self._state.notify_all()

    def _gone(self):
        from studio.serve.errors import ApiError

        return ApiError(404, f"The model '{self.name}' is no longer served", param="model", code="model_not_found")

    def encode(self, tokenizer, text: str, add_special: bool) -> list[int]:
        # llama.cpp adds a BOS token only where the file says the model wants one, as transformers' tokenizer does
        with self._use() as llm:
            return llm.tokenize(text.encode("utf-8"), add_bos=add_special, special=True)

    def decode(self, tokenizer, ids: list[int]) -> str:
        with self._use(closing_ok=True) as llm:
            return llm.detokenize(ids).decode("utf-8", "replace")

    def eos_ids(self, tokenizer) -> set:
        """llama.cpp's end-of-generation tokens (and the run tokenizer's end-of-text token, as transformers stops on)."""
        if self._eos is None:
            import llama_cpp

            with self._use(closing_ok=True) as llm:
                vocab = llm._model.vocab
                eos = {t for t in range(llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, t)}
                eos.add(llm.token_eos())
            if isinstance(getattr(tokenizer, "eos_token_id", None), int):
                eos.add(tokenizer.eos_token_id)
            self._eos = eos
        return self._eos

    @property
    def batcher(self) -> "Worker":
        with self._made:
            if self._closed:
                raise self._gone()
            if self._worker is None:
                self._worker = Worker(self)
            return self._worker

    def close(self) -> None:
        """Refuse new requests; free the file's memory once the requests already submitted are answered."""
        with self._made, self._state:
            if self._closed:
                return
            self._closed = True
            worker = self._worker
            if worker is not None:
                worker.waiting.put(_END)  # with the state held: no request is submitted after it
        if worker is None:
            self._free()

    def _free(self) -> None:
        with self._state:
            self._state.wait_for(lambda: self._using == 0)
            self._freed = True
            self.model.close()


class Worker:
    """Writes the replies to one GGUF file, one request after another; ``submit`` a ``batching.Job``, then iterate it."""

    def __init__(self, loaded: LlamaLoaded):
        self.loaded = loaded
        self.waiting: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._work, daemon=True, name="studio-serve-llamacpp")
        self._thread.start()

    def submit(self, job) -> None:
        with self.loaded._state:
            if self.loaded._closed:
                raise self.loaded._gone()
            self.waiting.put(job)

    def _work(self) -> None:
        while True:
            job = self.waiting.get()
            if job is _END:
                self.loaded._free()
                return
            if not job.cancelled.is_set():
                try:
                    write(self.loaded, job)
                except BaseException as err:  # noqa: BLE001 - the request raises it in its own thread
                    job.finish(err)
            job.finish()


def write(loaded: LlamaLoaded, job) -> None:
    """One reply: llama.cpp samples as the transformers backend does (greedy at temperature 0; else temperature and
    top_p alone, no top-k or min-p cut and no repeat penalty)."""
    import llama_cpp

    p = job.params
    eos = loaded.eos_ids(job.served.tokenizer)
    with loaded._use(closing_ok=True) as llm, loaded.lock:
        llm.set_seed(llama_cpp.LLAMA_DEFAULT_SEED if p.seed is None else p.seed % 2**32)  # the default: a random seed
        for token in llm.generate(job.input_ids, temp=p.temperature, top_p=p.top_p, top_k=0, min_p=0.0,
                                  typical_p=1.0, repeat_penalty=1.0):
            job.add(token, eos)
            if job.done or job.cancelled.is_set():
                break


def load(plans, log=print, how=None) -> dict:
    """Each run's GGUF export loaded in llama.cpp, keyed by the run's id (``how``: as for ``why_not``); on an error,
    the files already loaded are closed again."""
    from llama_cpp import Llama

    from studio.core import models
    from studio.serve.loading import Served, _system_prompt

    reason = why_not(plans, how)
    if reason:
        raise StudioError(reason)
    served, opened = {}, []
    try:
        for p in plans:
            path = gguf_file(p.folder)
            _warn_if_stale(p, path, log, how)
            started = time.time()
            n_ctx = min(_trained_context(path), MAX_CONTEXT)
            llm = Llama(str(path), n_ctx=n_ctx, n_threads=_threads(), n_threads_batch=_threads(), n_gpu_layers=-1,
                        verbose=False)
            opened.append(LlamaLoaded(llm, path, "cpu", p.id))
            tokenizer = models.load_tokenizer(str(p.folder.model_dir), p.base_key[1])
            served[p.id] = Served(p.id, p.id, opened[-1], tokenizer, None, _system_prompt(p, log), llm.n_ctx(), "gguf")
            log(f"{p.id}: {path.name} in llama.cpp ({path.stat().st_size / 1e6:.1f} MB, {llm.n_ctx()} tokens of "
                f"context, {time.time() - started:.1f} s)")
    except BaseException:
        for loaded in opened:
            loaded.close()
        raise
    return served


def close(served: dict | None) -> None:
    """Free the GGUF files these served ids hold (each once the requests already submitted are answered)."""
    for loaded in {id(s.loaded): s.loaded for s in (served or {}).values() if s.kind == "gguf"}.values():
        loaded.close()


def _trained_context(path: Path) -> int:
    """The context length the model was trained for, from the file's metadata (MAX_CONTEXT where it says none).
    Read with the vocabulary only and no context (llama-cpp-python's own model wrapper, as pinned by the extra), so
    nothing is allocated and nothing is printed."""
    import llama_cpp
    from llama_cpp import _internals

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = _internals.LlamaModel(path_model=str(path), params=params, verbose=False)
    try:
        meta = model.metadata()
    finally:
        model.close()
    value = meta.get(f"{meta.get('general.architecture', '')}.context_length", "")
    return int(value) if str(value).isdigit() and int(value) > 0 else MAX_CONTEXT


def _warn_if_stale(p, path: Path, log, how=None) -> None:
    newest = max((f.stat().st_mtime for f in p.folder.model_dir.iterdir() if f.is_file()), default=0)
    if newest > path.stat().st_mtime:
        log(f"{p.id}: warning: the GGUF export is older than the run's model/ (trained on after it was exported); "
            f"{(how or export_hint)(p, again=True)}")

"""Which backend serves the runs, and the first thing the server says: the backend it chose and why.

transformers (``studio.serve.loading``) unless llama.cpp (``studio.serve.llamacpp``, a run's GGUF export) is asked
for, or ``auto`` finds it clearly better; vLLM is not wired in.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Callable

from studio.core.errors import StudioError
from studio.serve import llamacpp, loading

BACKENDS = ("transformers", "llamacpp", "auto")


@dataclass(frozen=True)
class Words:
    """How a backend was asked for and what to do next, as the command line or the studio's page says it."""
    asked: Callable[[str], str]  # backend -> how it is asked for ("--backend llamacpp")
    export: Callable  # how to make a run's GGUF export: (plan, again=False) -> str, as llamacpp.export_hint
    use_llamacpp: str  # how to serve runs' GGUF exports instead of transformers


CLI = Words(lambda b: f"--backend {b}", llamacpp.export_hint,
            "python -m studio serve RUN --backend llamacpp serves a run's GGUF export")
PAGE_NAMES = {"transformers": "transformers", "llamacpp": "llama.cpp", "auto": "auto"}  # the Serve panel's choices


def _page_export(plan, again: bool = False) -> str:
    """How to make a run's GGUF export, as the page says it: where on the page, never a server path."""
    if again:
        return "export it again in the GGUF section of the Export tab to serve the latest weights"
    return "make one in the GGUF section of the Export tab (above the Serve panel), then switch Serve on again"


PAGE = Words(lambda b: f"Backend {PAGE_NAMES.get(b, b)}", _page_export,
             "Backend llama.cpp on the Serve panel serves a run's GGUF export")


def choose_backend(asked: str, plans: list, device: str, words: Words = CLI) -> tuple[str, str]:
    """(backend, why) for ``--backend asked``: transformers unless llama.cpp is asked for, or ``auto`` finds it
    clearly better (no CUDA GPU, llama_cpp installed, a GGUF export for every run). Refuses llama.cpp where it
    cannot run, saying what to install or how to export (in ``words``: the command line's, or the page's)."""
    if asked not in BACKENDS:
        raise StudioError(f"{words.asked(asked)}: choose one of {', '.join(BACKENDS)}")
    if asked == "transformers":
        return "transformers", ""
    reason = llamacpp.why_not(plans, words.export)
    if asked == "llamacpp":
        if reason:
            raise StudioError(f"{words.asked('llamacpp')}: {reason}")
        return "llamacpp", f"asked for with {words.asked('llamacpp')}"
    if device == "cuda":
        return "transformers", f"{words.asked('auto')}: a CUDA GPU is available"
    if reason:
        return "transformers", f"{words.asked('auto')}: {reason}"
    return "llamacpp", f"{words.asked('auto')}: no CUDA GPU, llama.cpp is installed and every run has a GGUF export"


def backend_line(device: str, gpu_name: str = "", backend: str = "transformers", why: str = "", plans=None,
                 words: Words = CLI) -> str:
    """The first thing the server says: the backend it chose, and why (and why not the others)."""
    if backend == "llamacpp":
        return f"backend: {llamacpp.describe(plans)}: {why}; transformers not used; {_vllm(device)}"
    if device == "cuda":
        line = f"backend: transformers on GPU ({gpu_name}, bf16): {why or 'a CUDA GPU is available'}"
    else:
        line = ("backend: transformers on CPU (fp32): " + (f"{why}; " if why else "") + "no CUDA GPU is visible to this "
                "process; replies come slower than on a GPU")
    return f"{line}; {_others(device, why, words)}"


def _vllm(device: str) -> str:
    vllm = "not installed" if importlib.util.find_spec("vllm") is None else (
        "installed, not used: needs a GPU" if device != "cuda" else "installed, not used: not wired in")
    return f"vLLM {vllm}"


def _others(device: str, why: str = "", words: Words = CLI) -> str:
    """Why the other backends are not used; each is named with what is here."""
    if why.startswith(words.asked("auto") + ":"):
        llama = "not used"
    elif not llamacpp.installed():
        llama = f"not installed ({llamacpp.EXTRA} serves runs' GGUF exports)"
    else:
        llama = f"installed, not used: {words.use_llamacpp}"
    return f"{_vllm(device)}; llama.cpp (llama_cpp) {llama}"


def load(backend: str, plans: list, device: str, log=print, bases: dict | None = None, words: Words = CLI) -> dict:
    """The served model ids: each run's GGUF export in llama.cpp (each load its own), or each run and its base in
    transformers (bases shared through a ``bases`` cache, as ``loading.load``). ``release`` undoes either."""
    if backend == "llamacpp":
        return llamacpp.load(plans, log, words.export)
    return loading.load(plans, device, log, bases=bases)


def release(served: dict | None, bases: dict | None = None) -> None:
    """Undo one ``load``: its GGUF files close (once their queued requests are answered), its transformers models
    and adapters are released as ``loading.release`` does (a shared base stays while others use it)."""
    served = served or {}
    llamacpp.close(served)
    loading.release({k: s for k, s in served.items() if s.kind != "gguf"}, bases)

"""Which backend serves the runs, and the first thing the server says: the backend it chose and why.

transformers (``studio.serve.loading``) unless llama.cpp (``studio.serve.llamacpp``, a run's GGUF export) or vLLM
(``studio.serve.vllm_engine``, a CUDA GPU; the command line only) is asked for, or ``auto`` finds one of them clearly
better. The command line and the studio's page word the choice and the refusals each their own way (``Words``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from studio.core.errors import StudioError
from studio.serve import llamacpp, loading, vllm_engine

BACKENDS = ("transformers", "llamacpp", "vllm", "auto")


@dataclass(frozen=True)
class Words:
    """How a backend was asked for and what to do next, as the command line or the studio's page says it."""
    asked: Callable[[str], str]  # backend -> how it is asked for ("--backend llamacpp")
    export: Callable  # how to make a run's GGUF export: (plan, again=False) -> str, as llamacpp.export_hint
    use_llamacpp: str  # how to serve runs' GGUF exports instead of transformers
    vllm: bool = True  # vLLM is offered (not on the page: it takes most of the GPU's memory, which runs train on)


CLI = Words(lambda b: f"--backend {b}", llamacpp.export_hint,
            "python -m studio serve RUN --backend llamacpp serves a run's GGUF export")
PAGE_NAMES = {"transformers": "transformers", "llamacpp": "llama.cpp", "auto": "auto"}  # the Serve panel's choices


def _page_export(plan, again: bool = False) -> str:
    """How to make a run's GGUF export, as the page says it: where on the page, never a server path."""
    if again:
        return "export it again in the GGUF section of the Export tab to serve the latest weights"
    return "make one in the GGUF section of the Export tab (above the Serve panel), then switch Serve on again"


PAGE = Words(lambda b: f"Backend {PAGE_NAMES.get(b, b)}", _page_export,
             "Backend llama.cpp on the Serve panel serves a run's GGUF export", vllm=False)


def choose_backend(asked: str, plans: list, device: str, words: Words = CLI) -> tuple[str, str]:
    """(backend, why) for ``--backend asked``: transformers unless llama.cpp or vLLM is asked for, or ``auto`` finds
    one clearly better: vLLM on a CUDA GPU where it is installed and serves these runs; llama.cpp without a CUDA GPU
    where it is installed and every run has a GGUF export. Refuses a backend that cannot run, saying what to install
    or how to export (in ``words``: the command line's, or the page's)."""
    offered = [b for b in BACKENDS if words.vllm or b != "vllm"]
    if asked not in offered:
        raise StudioError(f"{words.asked(asked)}: choose one of {', '.join(offered)}")
    if asked == "transformers":
        return "transformers", ""
    if asked == "vllm":
        reason = vllm_engine.why_not(plans, device)
        if reason:
            raise StudioError(f"{words.asked('vllm')}: {reason}")
        return "vllm", f"asked for with {words.asked('vllm')}"
    if device == "cuda" and asked == "auto":
        reason = vllm_engine.why_not(plans, device) if words.vllm else "vLLM is not offered here"
        if reason is None:
            return "vllm", f"{words.asked('auto')}: a CUDA GPU, and vLLM is installed"
        return "transformers", f"{words.asked('auto')}: a CUDA GPU is available" + (f"; {reason}" if words.vllm else "")
    reason = llamacpp.why_not(plans, words.export)
    if asked == "llamacpp":
        if reason:
            raise StudioError(f"{words.asked('llamacpp')}: {reason}")
        return "llamacpp", f"asked for with {words.asked('llamacpp')}"
    if reason:
        return "transformers", f"{words.asked('auto')}: {reason}"
    return "llamacpp", f"{words.asked('auto')}: no CUDA GPU, llama.cpp is installed and every run has a GGUF export"


def backend_line(device: str, gpu_name: str = "", backend: str = "transformers", why: str = "", plans=None,
                 words: Words = CLI) -> str:
    """The first thing the server says: the backend it chose, and why (and why not the others)."""
    if backend == "llamacpp":
        return f"backend: {llamacpp.describe(plans)}: {why}; transformers not used; {_vllm(device, why, words)}"
    if backend == "vllm":
        return f"backend: {vllm_engine.describe(plans)}: {why}; transformers not used; {_llama(why, words)}"
    if device == "cuda":
        line = f"backend: transformers on GPU ({gpu_name}, bf16): {why or 'a CUDA GPU is available'}"
    else:
        line = ("backend: transformers on CPU (fp32): " + (f"{why}; " if why else "") + "no CUDA GPU is visible to this "
                "process; replies come slower than on a GPU")
    return f"{line}; {_others(device, why, words)}"


def _vllm(device: str, why: str = "", words: Words = CLI) -> str:
    if not words.vllm:
        return "vLLM not offered here (python -m studio serve RUN --backend vllm serves runs with it on a CUDA GPU)"
    if not vllm_engine.installed():
        return "vLLM not installed (on a CUDA GPU it serves many requests faster: --backend vllm)"
    if device != "cuda":
        return "vLLM installed, not used: needs a CUDA GPU"
    return "vLLM installed, not used" + ("" if why.startswith(words.asked("auto") + ":") else
                                         ": --backend vllm or auto uses it")


def _llama(why: str = "", words: Words = CLI) -> str:
    if why.startswith(words.asked("auto") + ":"):
        return "llama.cpp (llama_cpp) not used"
    if not llamacpp.installed():
        return f"llama.cpp (llama_cpp) not installed ({llamacpp.EXTRA} serves runs' GGUF exports)"
    return f"llama.cpp (llama_cpp) installed, not used: {words.use_llamacpp}"


def _others(device: str, why: str = "", words: Words = CLI) -> str:
    """Why the other backends are not used; each is named with what is here."""
    return f"{_vllm(device, why, words)}; {_llama(why, words)}"


def load(backend: str, plans: list, device: str, log=print, bases: dict | None = None, words: Words = CLI) -> dict:
    """The served model ids: each run's GGUF export in llama.cpp (each load its own), each run and its base in vLLM,
    or each run and its base in transformers (bases shared through a ``bases`` cache, as ``loading.load``).
    ``release`` undoes llama.cpp's and transformers'."""
    if backend == "llamacpp":
        return llamacpp.load(plans, log, words.export)
    if backend == "vllm":
        return vllm_engine.load(plans, log)
    return loading.load(plans, device, log, bases=bases)


def release(served: dict | None, bases: dict | None = None) -> None:
    """Undo one ``load``: its GGUF files close (once their queued requests are answered), its transformers models
    and adapters are released as ``loading.release`` does (a shared base stays while others use it)."""
    served = served or {}
    llamacpp.close(served)
    loading.release({k: s for k, s in served.items() if s.kind != "gguf"}, bases)

"""Which backend serves the runs, and the first thing the server says: the backend it chose and why.

transformers (``studio.serve.loading``) unless llama.cpp (``studio.serve.llamacpp``, a run's GGUF export) is asked
for, or ``auto`` finds it clearly better; vLLM is not wired in.
"""

from __future__ import annotations

import importlib.util

from studio.core.errors import StudioError
from studio.serve import llamacpp, loading

BACKENDS = ("transformers", "llamacpp", "auto")


def choose_backend(asked: str, plans: list, device: str) -> tuple[str, str]:
    """(backend, why) for ``--backend asked``: transformers unless llama.cpp is asked for, or ``auto`` finds it
    clearly better (no CUDA GPU, llama_cpp installed, a GGUF export for every run). Refuses llama.cpp where it
    cannot run, saying what to install or how to export."""
    if asked not in BACKENDS:
        raise StudioError(f"--backend {asked}: choose one of {', '.join(BACKENDS)}")
    if asked == "transformers":
        return "transformers", ""
    reason = llamacpp.why_not(plans)
    if asked == "llamacpp":
        if reason:
            raise StudioError(f"--backend llamacpp: {reason}")
        return "llamacpp", "asked for with --backend llamacpp"
    if device == "cuda":
        return "transformers", "--backend auto: a CUDA GPU is available"
    if reason:
        return "transformers", f"--backend auto: {reason}"
    return "llamacpp", "--backend auto: no CUDA GPU, llama.cpp is installed and every run has a GGUF export"


def backend_line(device: str, gpu_name: str = "", backend: str = "transformers", why: str = "", plans=None) -> str:
    """The first thing the server says: the backend it chose, and why (and why not the others)."""
    if backend == "llamacpp":
        return f"backend: {llamacpp.describe(plans)}: {why}; transformers not used; {_vllm(device)}"
    if device == "cuda":
        line = f"backend: transformers on GPU ({gpu_name}, bf16): {why or 'a CUDA GPU is available'}"
    else:
        line = ("backend: transformers on CPU (fp32): " + (f"{why}; " if why else "") + "no CUDA GPU is visible to this "
                "process; replies come slower than on a GPU")
    return f"{line}; {_others(device, why)}"


def _vllm(device: str) -> str:
    vllm = "not installed" if importlib.util.find_spec("vllm") is None else (
        "installed, not used: needs a GPU" if device != "cuda" else "installed, not used: not wired in")
    return f"vLLM {vllm}"


def _others(device: str, why: str = "") -> str:
    """Why the other backends are not used; each is named with what is here."""
    if why.startswith("--backend auto:"):
        llama = "not used"
    elif not llamacpp.installed():
        llama = f"not installed ({llamacpp.EXTRA} serves runs' GGUF exports)"
    else:
        llama = "installed, not used: python -m studio serve RUN --backend llamacpp serves a run's GGUF export"
    return f"{_vllm(device)}; llama.cpp (llama_cpp) {llama}"


def load(backend: str, plans: list, device: str, log=print) -> dict:
    """The served model ids: each run's GGUF export in llama.cpp, or each run and its base in transformers."""
    if backend == "llamacpp":
        return llamacpp.load(plans, log)
    return loading.load(plans, device, log)

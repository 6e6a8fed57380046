"""Which backend serves the runs, and the first thing the server says: the backend it chose and why.

transformers (``studio.serve.loading``) unless llama.cpp (``studio.serve.llamacpp``, a run's GGUF export) or vLLM
(``studio.serve.vllm_engine``, a CUDA GPU) is asked for, or ``auto`` finds one of them clearly better.
"""

from __future__ import annotations

from studio.core.errors import StudioError
from studio.serve import llamacpp, loading, vllm_engine

BACKENDS = ("transformers", "llamacpp", "vllm", "auto")


def choose_backend(asked: str, plans: list, device: str) -> tuple[str, str]:
    """(backend, why) for ``--backend asked``: transformers unless llama.cpp or vLLM is asked for, or ``auto`` finds
    one clearly better: vLLM on a CUDA GPU where it is installed and serves these runs; llama.cpp without a CUDA GPU
    where it is installed and every run has a GGUF export. Refuses a backend that cannot run, saying what to do."""
    if asked not in BACKENDS:
        raise StudioError(f"--backend {asked}: choose one of {', '.join(BACKENDS)}")
    if asked == "transformers":
        return "transformers", ""
    if asked == "vllm":
        reason = vllm_engine.why_not(plans, device)
        if reason:
            raise StudioError(f"--backend vllm: {reason}")
        return "vllm", "asked for with --backend vllm"
    if device == "cuda":
        if asked == "auto":
            reason = vllm_engine.why_not(plans, device)
            if reason is None:
                return "vllm", "--backend auto: a CUDA GPU, and vLLM is installed"
            return "transformers", f"--backend auto: a CUDA GPU is available; {reason}"
    reason = llamacpp.why_not(plans)
    if asked == "llamacpp":
        if reason:
            raise StudioError(f"--backend llamacpp: {reason}")
        return "llamacpp", "asked for with --backend llamacpp"
    if reason:
        return "transformers", f"--backend auto: {reason}"
    return "llamacpp", "--backend auto: no CUDA GPU, llama.cpp is installed and every run has a GGUF export"


def backend_line(device: str, gpu_name: str = "", backend: str = "transformers", why: str = "", plans=None) -> str:
    """The first thing the server says: the backend it chose, and why (and why not the others)."""
    if backend == "llamacpp":
        return f"backend: {llamacpp.describe(plans)}: {why}; transformers not used; {_vllm(device)}"
    if backend == "vllm":
        return f"backend: {vllm_engine.describe(plans)}: {why}; transformers not used; {_llama(why)}"
    if device == "cuda":
        line = f"backend: transformers on GPU ({gpu_name}, bf16): {why or 'a CUDA GPU is available'}"
    else:
        line = ("backend: transformers on CPU (fp32): " + (f"{why}; " if why else "") + "no CUDA GPU is visible to this "
                "process; replies come slower than on a GPU")
    return f"{line}; {_others(device, why)}"


def _vllm(device: str, why: str = "") -> str:
    if not vllm_engine.installed():
        return "vLLM not installed (on a CUDA GPU it serves many requests faster: --backend vllm)"
    if device != "cuda":
        return "vLLM installed, not used: needs a CUDA GPU"
    return "vLLM installed, not used" + ("" if why.startswith("--backend auto:") else ": --backend vllm or auto uses it")


def _llama(why: str = "") -> str:
    if why.startswith("--backend auto:"):
        return "llama.cpp (llama_cpp) not used"
    if not llamacpp.installed():
        return f"llama.cpp (llama_cpp) not installed ({llamacpp.EXTRA} serves runs' GGUF exports)"
    return "llama.cpp (llama_cpp) installed, not used: python -m studio serve RUN --backend llamacpp serves a run's GGUF export"


def _others(device: str, why: str = "") -> str:
    """Why the other backends are not used; each is named with what is here."""
    return f"{_vllm(device, why)}; {_llama(why)}"


def load(backend: str, plans: list, device: str, log=print) -> dict:
    """The served model ids: each run's GGUF export in llama.cpp, or each run and its base in vLLM or transformers."""
    if backend == "llamacpp":
        return llamacpp.load(plans, log)
    if backend == "vllm":
        return vllm_engine.load(plans, log)
    return loading.load(plans, device, log)

"""The vLLM backend: the runs' models in vLLM on a CUDA GPU (``python -m studio serve RUN --backend vllm``).

One vLLM engine per model in memory: a base model with every LoRA run on it as an adapter (``LoRARequest``, switched
per request, so runs on one base share one copy of its weights) and its ``RUN:base``; a full fine-tune is an engine
of its own. Requests take the same path as with the other backends (``studio.serve.api``: model ids, keys, limits,
errors; ``studio.serve.generate.Reply``: stop strings, token counts): the prompt's token ids go to vLLM, whose
continuous batching answers requests together, and each new token is handed to the request's ``Job``. The engines
run in one asyncio loop on a thread of their own. The GPU memory vLLM may take (``STUDIO_VLLM_GPU_MEMORY``, a
share of the GPU, 0.85 unless set) is split between the engines.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import threading
import time
import uuid
from pathlib import Path

from studio.core.errors import StudioError
from studio.serve.batching import eos_ids
from studio.serve.loading import Loaded

INSTALL = "pip install vllm (a vLLM build made for this machine's torch and CUDA; see vLLM's installation guide)"
MAX_CONTEXT = 8192  # tokens of context at most per request (vLLM reserves KV cache for it); less where the model has less
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the max_lora_rank values vLLM accepts (0.34: MaxLoRARanks)


def installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def gpu_memory() -> float:
    value = os.environ.get("STUDIO_VLLM_GPU_MEMORY", "0.85")
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not 0.05 <= share <= 0.98:
        raise StudioError(f"STUDIO_VLLM_GPU_MEMORY={value}: give the share of the GPU's memory vLLM may take, a "
                          "number from 0.05 to 0.98 (0.85 when unset)")
    return share


def _adapter_config(plan) -> dict:
    return json.loads((Path(plan.folder.model_dir) / "adapter_config.json").read_text())


def why_not(plans, device: str) -> str | None:
    """Why vLLM cannot serve these runs here (what to install, what to use instead); None if it can."""
    from studio.core import models

    if not installed():
        return f"vLLM is not installed here (the Python module vllm); install it with: {INSTALL}"
    if device != "cuda":
        return "vLLM needs a CUDA GPU and none is visible to this process; serve with --backend transformers"
    for p in plans:
        source = p.base_key[0]
        if models.resolve(source, prepare=False).gguf_file:
            return (f"{p.id} is trained on a GGUF file ({source}), which this backend does not load; "
                    "serve it with --backend transformers")
        if bool(getattr(models.load_config(source, p.base_key[1]), "is_encoder_decoder", False)):
            return f"{p.id} is an encoder-decoder model, which this backend does not serve; use --backend transformers"
        if p.adapter:
            extra = _adapter_config(p).get("modules_to_save") or []
            if extra:
                return (f"{p.id}'s adapter also trains whole layers ({', '.join(extra)}), which vLLM's LoRA does not "
                        "serve; use --backend transformers, or serve its merged export (python -m studio export "
                        f"{p.folder.path} --merge) as a run of its own")
    return None


def describe(plans) -> str:
    import vllm

    bases = {p.base_key[0] for p in plans}
    full = [p.id for p in plans if not p.adapter]
    lora = [p.id for p in plans if p.adapter]
    parts = [f"vLLM {vllm.__version__} on GPU (bf16), {len(bases) + len(full)} engine{'s' * (len(bases) + len(full) > 1)} "
             f"sharing {gpu_memory():.0%} of the GPU's memory"]
    if lora:
        parts.append(f"LoRA adapters switched per request: {', '.join(lora)}")
    if full:
        parts.append(f"full fine-tunes: {', '.join(full)}")
    return "; ".join(parts) + "; requests are batched continuously"


def _lora_rank(plans) -> int:
    """The smallest rank vLLM supports that holds every adapter."""
    biggest = max((int(_adapter_config(p).get("r") or 8) for p in plans if p.adapter), default=8)
    fits = [r for r in LORA_RANKS if r >= biggest]
    if not fits:
        raise StudioError(f"an adapter of rank {biggest} is more than vLLM's largest ({LORA_RANKS[-1]}); serve it "
                          "with --backend transformers")
    return fits[0]


class Loop:
    """An asyncio loop on a thread of its own, where the vLLM engines live and every request is answered."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="studio-serve-vllm")
        self._thread.start()

    def run(self, coro, wait: bool = True):
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result() if wait else future

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


class Engine:
    """One model in a vLLM engine; it answers the ``batching.Job`` of every id served from it. Prompts are encoded and
    replies decoded with the run's tokenizer, as in transformers (``loading.Loaded``)."""

    seq2seq = False
    encode = Loaded.encode
    decode = Loaded.decode

    def __init__(self, loop: Loop, model_path: str, trust_remote_code: bool, loras: int, rank: int, share: float,
                 context: int):
        from transformers import GenerationConfig
        from vllm import AsyncEngineArgs, AsyncLLMEngine

        self.loop, self.context = loop, context
        args = AsyncEngineArgs(model=model_path, trust_remote_code=trust_remote_code, dtype="bfloat16",
                               gpu_memory_utilization=share, max_model_len=context, enable_lora=loras > 0,
                               max_loras=max(1, loras), max_lora_rank=rank, disable_log_stats=True)

        async def make():  # made inside the loop, so its output handler runs there
            return AsyncLLMEngine.from_engine_args(args)

        self.engine = loop.run(make())
        try:  # the model's end-of-text tokens, read by ``eos_ids`` as for a transformers model
            self.generation_config = GenerationConfig.from_pretrained(model_path, trust_remote_code=trust_remote_code)
        except OSError:  # no generation_config.json: the tokenizer's end-of-text alone
            self.generation_config = None

    @property
    def batcher(self) -> "Engine":
        return self

    def eos_ids(self, tokenizer) -> set:
        """The tokens that end a reply (vLLM stops on them too): the model's and the run tokenizer's end-of-text."""
        return eos_ids(self, tokenizer)

    def submit(self, job) -> None:
        self.loop.run(self._answer(job), wait=False)

    async def _answer(self, job) -> None:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        p = job.params
        if job.cancelled.is_set():
            job.finish()
            return
        params = SamplingParams(n=1, temperature=p.temperature, top_p=p.top_p, max_tokens=p.max_tokens, seed=p.seed)
        eos = self.eos_ids(job.served.tokenizer)
        stream = self.engine.generate(TokensPrompt(prompt_token_ids=list(job.input_ids)), params,
                                      f"studio-{uuid.uuid4().hex}", lora_request=job.served.adapter)
        seen = 0
        try:
            async for out in stream:
                ids = list(out.outputs[0].token_ids)
                for token in ids[seen:]:
                    job.add(token, eos)
                seen = len(ids)
                if job.done or job.cancelled.is_set():
                    break
        except BaseException as err:  # noqa: BLE001 - the request raises it in its own thread
            job.finish(err)
        finally:
            await stream.aclose()  # vLLM aborts a request whose stream is closed before it finished
        job.finish()

    def close(self) -> None:
        shutdown = getattr(self.engine, "shutdown", None)
        if shutdown is not None:
            shutdown()


def load(plans, log=print) -> dict:
    """Every run and its base, keyed by model id, in vLLM engines: one per base (its LoRA runs as adapters) and one
    per full fine-tune."""
    from vllm.lora.request import LoRARequest

    from studio.core import models
    from studio.serve.loading import BASE_SUFFIX, Served, _system_prompt, context_length

    reason = why_not(plans, "cuda")
    if reason:
        raise StudioError(reason)
    keys = list(dict.fromkeys(p.base_key for p in plans))
    full = [p for p in plans if not p.adapter]
    share = gpu_memory() / (len(keys) + len(full))
    rank = _lora_rank(plans)

    def context(source: str, trust: bool) -> int:
        found = context_length(models.load_config(source, trust), models.load_tokenizer(source, trust))
        return min(found or MAX_CONTEXT, MAX_CONTEXT)

    loop = Loop()
    engines: dict = {}
    served: dict = {}
    try:
        for key in keys:
            runs = [p for p in plans if p.base_key == key]
            started = time.time()
            engines[key] = Engine(loop, models.resolve(key[0]).path, key[1], sum(p.adapter for p in runs), rank,
                                  share, context(*key))
            log(f"base model {key[0]} in vLLM for {', '.join(p.id for p in runs)} ({engines[key].context} tokens of "
                f"context, {share:.0%} of the GPU's memory, {time.time() - started:.1f} s)")
        for n, p in enumerate(plans, 1):
            base = engines[p.base_key]
            if p.adapter:
                engine, adapter, kind = base, LoRARequest(p.id, n, str(p.folder.model_dir)), "lora"
            else:
                started = time.time()
                model_dir = str(p.folder.model_dir)
                engine = engines[p.id] = Engine(loop, model_dir, p.base_key[1], 0, rank, share,
                                                context(model_dir, p.base_key[1]))
                adapter, kind = None, "full"
                log(f"{p.id}: full fine-tune, an engine of its own ({time.time() - started:.1f} s)")
            tokenizer = models.load_tokenizer(str(p.folder.model_dir), p.base_key[1])
            system = _system_prompt(p, log)
            served[p.id] = Served(p.id, p.id, engine, tokenizer, adapter, system, engine.context, kind)
            served[p.id + BASE_SUFFIX] = Served(p.id + BASE_SUFFIX, p.id, base, tokenizer, None, system, base.context,
                                                "base")
    except BaseException:
        for engine in engines.values():
            engine.close()
        loop.stop()
        raise
    return served

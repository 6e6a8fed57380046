"""A stand-in for vLLM's serving API (see tests/stand_ins/README.md): transformers and peft on the CPU, one token
per step, vLLM's output shapes (cumulative ``token_ids``, ``finished``), its refusals of a LoRA request on an engine
made without LoRA or of a rank above ``max_lora_rank``, and an abort when a stream is closed early."""

import asyncio
from dataclasses import dataclass, field

from vllm.inputs import TokensPrompt  # noqa: F401 - vLLM exports it here too

__version__ = "0.0-stand-in"


class AsyncEngineArgs:
    def __init__(self, model: str, **options):
        self.model, self.options = model, options


@dataclass
class SamplingParams:
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 16
    seed: int | None = None


@dataclass
class CompletionOutput:
    token_ids: list = field(default_factory=list)
    finish_reason: str | None = None


@dataclass
class RequestOutput:
    request_id: str
    outputs: list
    finished: bool


class AsyncLLMEngine:
    made: list = []  # every engine made, for the tests to look at

    def __init__(self, args: AsyncEngineArgs):
        from transformers import AutoModelForCausalLM, GenerationConfig

        self.args, self.requests, self.aborted, self.shut = args, [], [], False
        self.model = AutoModelForCausalLM.from_pretrained(args.model).eval()
        try:
            eos = GenerationConfig.from_pretrained(args.model).eos_token_id
        except OSError:
            eos = self.model.config.eos_token_id
        self.eos = {eos} if isinstance(eos, int) else set(eos or [])
        self.adapters: dict = {}  # lora_int_id -> adapter name in the peft model

    @classmethod
    def from_engine_args(cls, args: AsyncEngineArgs) -> "AsyncLLMEngine":
        asyncio.get_running_loop()  # vLLM's output handler starts in the loop it is made in
        engine = cls(args)
        cls.made.append(engine)
        return engine

    def _with_adapter(self, lora):
        import contextlib
        import json
        from pathlib import Path

        from peft import PeftModel

        if lora is None:
            return self.model.disable_adapter() if self.adapters else contextlib.nullcontext()
        if not self.args.options.get("enable_lora"):
            raise ValueError(f"LoRA is not enabled! Got lora_request {lora}")
        rank = json.loads((Path(lora.lora_path) / "adapter_config.json").read_text())["r"]
        if rank > self.args.options.get("max_lora_rank", 16):
            raise ValueError(f"LoRA rank {rank} is greater than max_lora_rank")
        if lora.lora_int_id not in self.adapters:
            name = f"a{lora.lora_int_id}"
            if isinstance(self.model, PeftModel):
                self.model.load_adapter(lora.lora_path, adapter_name=name)
            else:
                self.model = PeftModel.from_pretrained(self.model, lora.lora_path, adapter_name=name).eval()
            self.adapters[lora.lora_int_id] = name
        self.model.set_adapter(self.adapters[lora.lora_int_id])
        return contextlib.nullcontext()

    async def generate(self, prompt, sampling_params, request_id, *, lora_request=None):
        import torch

        p = sampling_params
        self.requests.append({"id": request_id, "prompt": list(prompt["prompt_token_ids"]), "params": p,
                              "lora": lora_request})
        ids = torch.tensor([prompt["prompt_token_ids"]])
        gen = torch.Generator().manual_seed(p.seed) if p.seed is not None else None
        out, finished = [], False
        try:
            while not finished:
                with torch.no_grad(), self._with_adapter(lora_request):
                    logits = self.model(ids).logits[0, -1].float()
                if p.temperature == 0:
                    token = int(logits.argmax())
                else:
                    probs = torch.softmax(logits / p.temperature, -1)
                    token = int(torch.multinomial(probs, 1, generator=gen))
                out.append(token)
                ids = torch.cat([ids, torch.tensor([[token]])], 1)
                finished = token in self.eos or len(out) >= p.max_tokens
                reason = None if not finished else ("stop" if token in self.eos else "length")
                yield RequestOutput(request_id, [CompletionOutput(list(out), reason)], finished)
                await asyncio.sleep(0)
        except GeneratorExit:
            if not finished:
                self.aborted.append(request_id)
            raise

    def shutdown(self):
        self.shut = True

"""Chat with a base model and a tuned run, side by side.

For a LoRA run one copy of the base model serves both: the adapter is switched off for the base reply.
A causal model is asked with its chat template; an encoder-decoder model (T5, ...) reads the conversation as a
source text (``studio.core.source_text``), as the seq2seq task trains it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from studio.core import models
from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.core.runfolder import RunFolder
from studio.core.chat_template import render_prompt
from studio.core.source_text import source_text


@dataclass
class Sampling:
    max_new_tokens: int = 128
    temperature: float = 0.0  # 0 means greedy: the same prompt always gets the same reply
    top_p: float = 0.9
    repetition_penalty: float = 1.0

    def generate_kwargs(self) -> dict:
        kw = {"max_new_tokens": self.max_new_tokens, "repetition_penalty": self.repetition_penalty}
        if self.temperature > 0:
            kw.update(do_sample=True, temperature=self.temperature, top_p=self.top_p)
        else:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kw


class ChatModels:
    """The base model and (optionally) a run's tuned model, ready to answer."""

    def __init__(self, base_source: str, run_dir: str | Path | None = None, trust_remote_code: bool = False):
        import torch

        self.run_dir = Path(run_dir) if run_dir else None
        self.lock = threading.Lock()  # one generation at a time per loaded model
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        tuned_dir = None
        if self.run_dir is not None:
            folder = RunFolder(self.run_dir)
            if not folder.has_model():
                raise StudioError(f"{self.run_dir} has no trained model yet (model/ is missing); train or resume it first")
            tuned_dir = folder.model_dir
        self.is_adapter = bool(tuned_dir and (tuned_dir / "adapter_config.json").exists())
        tok_source = str(tuned_dir) if tuned_dir else base_source
        self.tokenizer = models.load_tokenizer(tok_source, trust_remote_code)
        self.base = models.load_generator(base_source, trust_remote_code, dtype=dtype).to(self.device).eval()
        self.seq2seq = bool(getattr(self.base.config, "is_encoder_decoder", False))
        self.tuned = None
        if tuned_dir is not None and self.is_adapter:
            from peft import PeftModel

            self.base = PeftModel.from_pretrained(self.base, str(tuned_dir)).eval()
            self.tuned = self.base
        elif tuned_dir is not None:
            self.tuned = models.load_generator(str(tuned_dir), trust_remote_code, dtype=dtype).to(self.device).eval()

    @classmethod
    def for_run(cls, run_dir: str | Path) -> "ChatModels":
        folder = RunFolder(run_dir)
        if not folder.config_file.exists():
            raise StudioError(f"{run_dir} is not a run folder (no config.yaml)")
        cfg = StudioConfig.load(folder.config_file)
        return cls(cfg.model.source, run_dir, cfg.model.trust_remote_code)

    def prompt_text(self, messages: list[dict]) -> str:
        """What the model reads: the chat template's prompt, or an encoder-decoder model's source text."""
        return source_text(messages) if self.seq2seq else render_prompt(self.tokenizer, messages)

    def _inputs(self, messages: list[dict]):
        text = self.prompt_text(messages)
        # a template already holds its special tokens; a source text gets the tokenizer's own (T5's </s>)
        return self.tokenizer(text, return_tensors="pt", add_special_tokens=self.seq2seq).to(self.device)

    def _model_and_ctx(self, tuned: bool):
        import contextlib

        if tuned and self.tuned is None:
            raise StudioError("this chat has no tuned model; pick a run that has finished or stopped")
        if self.is_adapter and not tuned:
            return self.base, self.base.disable_adapter()
        return (self.tuned if tuned else self.base), contextlib.nullcontext()

    def reply(self, messages: list[dict], tuned: bool = True, sampling: Sampling | None = None) -> str:
        """The whole reply at once."""
        return "".join(self.stream(messages, tuned, sampling))

    def stream(self, messages: list[dict], tuned: bool = True, sampling: Sampling | None = None):
        """Yield the reply piece by piece as the model writes it."""
        import torch
        from transformers import TextIteratorStreamer

        sampling = sampling or Sampling()
        model, ctx = self._model_and_ctx(tuned)
        inputs = self._inputs(messages)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = dict(**inputs, streamer=streamer, pad_token_id=self.tokenizer.pad_token_id, **sampling.generate_kwargs())
        error: list[BaseException] = []

        def work():
            try:
                with self.lock, ctx, torch.no_grad():
                    model.generate(**kwargs)
            except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
                error.append(err)
                streamer.end()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        for piece in streamer:
            yield piece
        thread.join()
        if error:
            raise error[0]

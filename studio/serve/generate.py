"""One reply written by a served model: iterate for text pieces, then read the token counts and why it ended."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from studio.core.chat_template import render_prompt
from studio.core.generate import Sampling
from studio.core.source_text import source_text


@dataclass
class Params:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int | None = None


def chat_prompt(served, messages: list[dict], tools: list[dict] | None) -> str:
    """What the model reads for a conversation: its chat template's prompt (tools rendered where the template
    renders them), or an encoder-decoder model's source text."""
    if served.loaded.seq2seq:
        return source_text(messages)
    return render_prompt(served.tokenizer, messages, tools)


def encode(served, text: str, chat: bool) -> list[int]:
    """Token ids of a prompt; a chat template already holds its special tokens, a plain prompt gets the tokenizer's."""
    add = served.loaded.seq2seq or not chat
    return served.tokenizer(text, add_special_tokens=add)["input_ids"]


class Reply:
    """The model writing one reply in a thread of its own, under the loaded model's lock."""

    def __init__(self, served, input_ids: list[int], params: Params):
        self.served, self.input_ids, self.params = served, input_ids, params
        self.completion_tokens = 0
        self.finish_reason = "stop"
        self._cancel = threading.Event()

    @property
    def prompt_tokens(self) -> int:
        return len(self.input_ids)

    def cancel(self) -> None:
        self._cancel.set()

    def __iter__(self):
        import torch
        import transformers
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        served, params = self.served, self.params
        tokenizer, loaded = served.tokenizer, served.loaded
        counted = {"tokens": 0, "last": None}

        class Streamer(TextIteratorStreamer):
            def put(self, value):
                if not (self.skip_prompt and self.next_tokens_are_prompt):
                    ids = value.reshape(-1).tolist()
                    counted["tokens"] += len(ids)
                    counted["last"] = ids[-1] if ids else counted["last"]
                super().put(value)

        cancel = self._cancel

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool, device=input_ids.device)

        streamer = Streamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        sampling = Sampling(max_new_tokens=params.max_tokens, temperature=params.temperature, top_p=params.top_p)
        ids = torch.tensor([self.input_ids], device=loaded.device)
        kwargs = dict(input_ids=ids, attention_mask=torch.ones_like(ids), streamer=streamer,
                      pad_token_id=tokenizer.pad_token_id, stopping_criteria=StoppingCriteriaList([Cancelled()]),
                      **sampling.generate_kwargs())
        if params.temperature > 0:
            kwargs["top_k"] = 0  # OpenAI samples from the whole top_p mass, not from a model's default top 50
        if params.stop:
            kwargs.update(stop_strings=params.stop, tokenizer=tokenizer)
        error: list[BaseException] = []

        def work():
            try:
                # the model's state (which adapter is on) is set only once the lock is held
                with loaded.lock, served.model_context(), torch.no_grad():
                    if params.seed is not None:
                        transformers.set_seed(params.seed)
                    loaded.model.generate(**kwargs)
            except BaseException as err:  # noqa: BLE001 - raised again in the caller's thread
                error.append(err)
                streamer.end()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        hold = max((len(s) for s in params.stop), default=1) - 1  # text that may be the start of a stop string
        buffer, stopped = "", False
        try:
            for piece in streamer:
                if stopped:
                    continue
                buffer += piece
                at = min((i for i in (buffer.find(s) for s in params.stop) if i >= 0), default=-1)
                if at >= 0:
                    stopped = True
                    cancel.set()
                    if buffer[:at]:
                        yield buffer[:at]
                    buffer = ""
                elif len(buffer) > hold:
                    yield buffer[:len(buffer) - hold]
                    buffer = buffer[len(buffer) - hold:]
            thread.join()
            if error:
                raise error[0]
            if buffer:
                yield buffer
        finally:
            cancel.set()  # a reader that stops early (a closed stream) stops the model too
        self.completion_tokens = counted["tokens"]
        eos = _eos_ids(loaded.model, tokenizer)
        if not stopped and counted["last"] not in eos and self.completion_tokens >= params.max_tokens:
            self.finish_reason = "length"


def _eos_ids(model, tokenizer) -> set:
    ids = set()
    gen = getattr(model, "generation_config", None)
    for value in (getattr(gen, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif value:
            ids.update(value)
    return ids

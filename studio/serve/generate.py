"""One reply written by a served model: iterate for text pieces, then read the token counts and why it ended."""

from __future__ import annotations

from dataclasses import dataclass, field

from studio.core.chat_template import render_prompt
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
    return served.loaded.encode(served.tokenizer, text, add_special=served.loaded.seq2seq or not chat)


class Reply:
    """The model writing one reply: a row in a batch of requests that arrived together (``studio.serve.batching``),
    or one reply at a time in llama.cpp (``studio.serve.llamacpp``)."""

    def __init__(self, served, input_ids: list[int], params: Params):
        self.served, self.input_ids, self.params = served, input_ids, params
        self.completion_tokens = 0
        self.finish_reason = "stop"
        self._job = None
        self._cancelled = False

    @property
    def prompt_tokens(self) -> int:
        return len(self.input_ids)

    def cancel(self) -> None:
        self._cancelled = True
        if self._job is not None:
            self._job.cancelled.set()

    def __iter__(self):
        from studio.serve.batching import Job

        served, params = self.served, self.params
        job = self._job = Job(served, self.input_ids, params)
        if self._cancelled:
            job.cancelled.set()
        served.loaded.batcher.submit(job)
        hold = max((len(s) for s in params.stop), default=1) - 1  # text that may be the start of a stop string
        buffer, stopped = "", False
        try:
            for piece in job:
                if stopped:
                    continue
                buffer += piece
                at = min((i for i in (buffer.find(s) for s in params.stop) if i >= 0), default=-1)
                if at >= 0:
                    stopped = True
                    job.cancelled.set()
                    if buffer[:at]:
                        yield buffer[:at]
                    buffer = ""
                elif len(buffer) > hold:
                    yield buffer[:len(buffer) - hold]
                    buffer = buffer[len(buffer) - hold:]
            if buffer:
                yield buffer
        finally:
            job.cancelled.set()  # a reader that stops early (a closed stream) ends its row too
        self.completion_tokens = job.tokens
        eos = served.loaded.eos_ids(served.tokenizer)
        if not stopped and job.last not in eos and self.completion_tokens >= params.max_tokens:
            self.finish_reason = "length"

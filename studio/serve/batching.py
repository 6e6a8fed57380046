"""Requests that arrive together share one ``generate``: a batcher per loaded model (transformers backend).

A worker thread takes the first waiting request, gathers for ``WINDOW`` seconds more the requests that can share
its run (the same served model id of the same person, so the same adapter even on a base several people share,
and the same temperature and top_p; none with a seed, whose reply must not depend on its neighbours), up to
``MAX_BATCH``, and runs one left-padded ``generate`` for them. Each row
streams its own tokens to its own request (``Job``), stops on its own (its end-of-text token, its ``max_tokens``, a
stop string, a closed connection) and the batch ends when every row has. Streamed and whole replies batch alike.
"""

from __future__ import annotations

import queue
import threading
import time

WINDOW = 0.008  # seconds a batch waits for more requests after its first
MAX_BATCH = 8
_END = object()


class Job:
    """One request's place in a batch: its prompt and settings in, its text pieces and token count out."""

    def __init__(self, served, input_ids: list[int], params):
        self.served, self.input_ids, self.params = served, input_ids, params
        self.pieces: queue.Queue = queue.Queue()
        self.cancelled = threading.Event()
        self.done = False
        self.tokens = 0
        self.last: int | None = None
        self.error: BaseException | None = None
        self._ids: list[int] = []
        self._sent = 0

    @property
    def group(self):
        """Jobs with the same group may share a batch; a seeded job never shares."""
        p = self.params
        return None if p.seed is not None else (id(self.served), p.temperature, p.top_p)  # the object: ids may repeat

    def add(self, token: int, eos: set) -> None:
        """A token the model wrote for this job's row (ignored once the row is done)."""
        if self.done:
            return
        self.tokens += 1
        self.last = token
        if token in eos:
            self.finish()
            return
        self._ids.append(token)
        text = self.served.loaded.decode(self.served.tokenizer, self._ids)
        # hold back text that ends in a partly decoded character, as transformers' streamers do
        if not text.endswith("\ufffd") and len(text) > self._sent:
            self.pieces.put(text[self._sent:])
            self._sent = len(text)
        if self.tokens >= self.params.max_tokens or self.cancelled.is_set():
            self.finish()

    def finish(self, error: BaseException | None = None) -> None:
        if self.done:
            return
        self.done = True
        self.error = error
        if error is None and self._ids:
            text = self.served.loaded.decode(self.served.tokenizer, self._ids)
            if len(text) > self._sent:
                self.pieces.put(text[self._sent:])
        self.pieces.put(_END)

    def __iter__(self):
        while True:
            piece = self.pieces.get()
            if piece is _END:
                if self.error is not None:
                    raise self.error
                return
            yield piece


class Batcher:
    """The worker for one loaded model; ``submit`` a Job, then iterate it."""

    def __init__(self, loaded, window: float = WINDOW, max_batch: int = MAX_BATCH):
        self.loaded, self.window, self.max_batch = loaded, window, max_batch
        self.waiting: queue.Queue = queue.Queue()
        self.held: list[Job] = []  # taken while gathering a batch they could not join: first in the next one
        self.batches: list[int] = []  # the size of each batch run (the most recent 1000), for tests and the bench
        self._thread = threading.Thread(target=self._work, daemon=True, name="studio-serve-batcher")
        self._thread.start()

    def submit(self, job: Job) -> None:
        self.waiting.put(job)

    def close(self) -> None:
        """End the worker after the requests already submitted."""
        self.waiting.put(_END)

    def _next(self, timeout: float | None):
        if self.held:
            return self.held.pop(0)
        try:
            return self.waiting.get(timeout=timeout) if timeout is None or timeout > 0 else self.waiting.get_nowait()
        except queue.Empty:
            return None

    def _gather(self) -> list[Job]:
        first = self._next(None)
        batch = [first]
        if first is _END or first.group is None:
            return batch
        deadline = time.monotonic() + self.window
        skipped: list[Job] = []
        while len(batch) < self.max_batch:
            job = self._next(deadline - time.monotonic())
            if job is None:
                break
            (batch if job is not _END and job.group == first.group else skipped).append(job)
        self.held = skipped + self.held
        return batch

    def _work(self) -> None:
        while True:
            batch = self._gather()
            if batch[0] is _END:
                return
            for job in [j for j in batch if j.cancelled.is_set()]:  # its reader left while it waited
                job.finish()
                batch.remove(job)
            if not batch:
                continue
            self.batches = (self.batches + [len(batch)])[-1000:]
            try:
                run_batch(self.loaded, batch)
            except BaseException as err:  # noqa: BLE001 - each request raises it in its own thread
                for job in batch:
                    job.finish(err)
            for job in batch:
                job.finish()


def run_batch(loaded, jobs: list[Job]) -> None:
    """One left-padded ``generate`` for these jobs (same model id and sampling settings)."""
    import torch
    import transformers
    from transformers import StoppingCriteria, StoppingCriteriaList

    from studio.core.generate import Sampling

    served, params = jobs[0].served, jobs[0].params
    tokenizer = served.tokenizer
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    width = max(len(j.input_ids) for j in jobs)
    ids = torch.tensor([[pad] * (width - len(j.input_ids)) + j.input_ids for j in jobs], device=loaded.device)
    mask = torch.tensor([[0] * (width - len(j.input_ids)) + [1] * len(j.input_ids) for j in jobs], device=loaded.device)
    eos = eos_ids(loaded.model, tokenizer)

    class Rows:
        """transformers' streamer interface: the prompt first (skipped), then one token per row per step."""
        prompt = True

        def put(self, value):
            if self.prompt:
                self.prompt = False
                return
            for job, token in zip(jobs, value.reshape(-1).tolist()):
                job.add(token, eos)

        def end(self):
            pass

    class RowsDone(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return torch.tensor([j.done or j.cancelled.is_set() for j in jobs], dtype=torch.bool, device=input_ids.device)

    sampling = Sampling(max_new_tokens=max(j.params.max_tokens for j in jobs), temperature=params.temperature,
                        top_p=params.top_p)
    with loaded.lock, served.model_context(), torch.no_grad():
        if params.seed is not None:
            transformers.set_seed(params.seed)
        loaded.model.generate(input_ids=ids, attention_mask=mask, streamer=Rows(), pad_token_id=pad,
                              stopping_criteria=StoppingCriteriaList([RowsDone()]), **sampling.generate_kwargs())


def eos_ids(model, tokenizer) -> set:
    ids = set()
    gen = getattr(model, "generation_config", None)
    for value in (getattr(gen, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif value:
            ids.update(value)
    return ids

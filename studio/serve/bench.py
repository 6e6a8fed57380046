"""``python -m studio bench --serve``: the served API against a plain ``generate`` loop, for 1 and 8 clients.

The model (the embedded smollm2, or ``--model``; or a run with ``--run RUN``, through any ``--backend``) is served
as ``studio serve`` serves it (the same app on a 127.0.0.1 port, streaming over HTTP). Each client sends chat requests with its own prompt and reads the stream:
time to first token (TTFT) is from sending to the first text chunk, tokens/s is every client's completion tokens
over the wall time. The baseline answers the same prompts one after another with transformers' ``model.generate`` in
this process (no HTTP; for a run, its model in transformers, whatever the backend served): its TTFT for the k-th of 8 clients includes the k-1 replies before it, as a server without
batching would make it wait. Greedy decoding, so both write the same replies.
"""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

QUESTIONS = ["What is the capital of France?", "Give me three tips for sleeping better.",
             "Explain photosynthesis in one paragraph.", "Write a haiku about autumn.",
             "How do I reverse a list in Python?", "What causes the seasons on Earth?",
             "Suggest a name for a small bakery.", "Why is the sky blue?"]


def _served(source: str):
    from studio.core import models
    from studio.serve.loading import Loaded, Served, context_length, pick_device

    import torch

    device, _ = pick_device()
    model = models.load_generator(source, dtype=torch.bfloat16 if device == "cuda" else torch.float32).to(device).eval()
    tokenizer = models.load_tokenizer(source)
    loaded = Loaded(model, device, bool(getattr(model.config, "is_encoder_decoder", False)))
    return Served("bench", "bench", loaded, tokenizer, None, None, context_length(model.config, tokenizer), "base")


def _run_served(run: str, asked: str) -> tuple[dict, object, str]:
    """A run served by the backend asked for, as ``{"bench": Served}``; its model in transformers for the baseline;
    the backend line."""
    from studio.serve import backends, loading

    plans = loading.plan([run])
    device, gpu = loading.pick_device()
    backend, why = backends.choose_backend(asked, plans, device)
    line = backends.backend_line(device, gpu, backend, why, plans)
    served = backends.load(backend, plans, device, log=lambda _: None)[plans[0].id]
    reference = served if backend == "transformers" else loading.load(plans, device, log=lambda _: None)[plans[0].id]
    return {"bench": served}, reference, line


def _baseline(served, prompts: list[list[int]], max_tokens: int) -> list[dict]:
    """One prompt after another through ``generate``; each reply's first-token time and token count."""
    import torch
    from transformers import TextIteratorStreamer

    out, clock = [], time.perf_counter()
    model, tok = served.loaded.model, served.tokenizer
    for ids in prompts:
        if served.adapter is not None:
            model.set_adapter(served.adapter, inference_mode=True)
        streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
        x = torch.tensor([ids], device=served.loaded.device)
        result = {}

        def work():
            with torch.no_grad():
                result["out"] = model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=max_tokens,
                                               do_sample=False, temperature=None, top_p=None, top_k=None,
                                               pad_token_id=tok.pad_token_id, streamer=streamer)

        thread = threading.Thread(target=work)
        thread.start()
        first = None
        for piece in streamer:
            if piece and first is None:
                first = time.perf_counter()
        thread.join()
        out.append({"ttft": (first or time.perf_counter()) - clock, "tokens": int(result["out"].shape[1] - x.shape[1])})
    return out


def _client(url: str, question: str, max_tokens: int, start: float) -> dict:
    import httpx

    body = {"model": "bench", "messages": [{"role": "user", "content": question}], "max_tokens": max_tokens,
            "temperature": 0, "stream": True, "stream_options": {"include_usage": True}}
    first, tokens = None, 0
    with httpx.stream("POST", f"{url}/chat/completions", json=body, timeout=600) as res:
        for line in res.iter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
            if first is None and chunk.get("choices") and chunk["choices"][0]["delta"].get("content"):
                first = time.perf_counter()
    return {"ttft": (first or time.perf_counter()) - start, "tokens": tokens}


def _summary(rows: list[dict], wall: float) -> dict:
    return {"ttft_mean": statistics.mean(r["ttft"] for r in rows), "ttft_max": max(r["ttft"] for r in rows),
            "tokens": sum(r["tokens"] for r in rows), "tokens_per_s": sum(r["tokens"] for r in rows) / wall,
            "wall_s": wall}


def run_bench(source: str = "smollm2", max_tokens: int = 64, clients: tuple[int, ...] = (1, 8), run: str | None = None,
              backend: str = "transformers") -> dict:
    import uvicorn

    from studio.core.chat_template import render_prompt
    from studio.serve.api import create_app
    from studio.serve.backends import backend_line
    from studio.serve.loading import pick_device

    if run:
        models, reference, line = _run_served(run, backend)
    else:
        reference = _served(source)
        models, line = {"bench": reference}, backend_line(*pick_device())
    served = models["bench"]
    prompts = [served.tokenizer(render_prompt(served.tokenizer, [{"role": "user", "content": q}], None),
                                add_special_tokens=False)["input_ids"] for q in QUESTIONS]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(models), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}/v1"
    res = {"model": run or source, "backend": line, "max_tokens": max_tokens, "runs": {}}
    batcher = served.loaded.batcher
    counted = hasattr(batcher, "batches")  # the transformers batcher counts its batches
    try:
        _client(url, QUESTIONS[0], 4, time.perf_counter())  # warm-up (first-call costs out of the figures)
        _baseline(reference, prompts[:1], 4)
        for n in clients:
            started = time.perf_counter()
            base = _baseline(reference, (prompts * n)[:n], max_tokens)
            base_wall = time.perf_counter() - started
            batches_before = len(batcher.batches) if counted else 0
            started = time.perf_counter()
            with ThreadPoolExecutor(n) as pool:
                rows = list(pool.map(lambda q: _client(url, q, max_tokens, started), (QUESTIONS * n)[:n]))
            wall = time.perf_counter() - started
            sizes = batcher.batches[batches_before:] if counted else None
            res["runs"][n] = {"generate": _summary(base, base_wall), "served": _summary(rows, wall),
                              "batch_sizes": sizes}
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
    return res


def report(res: dict) -> list[str]:
    lines = [res["backend"], f"model {res['model']}, greedy, up to {res['max_tokens']} new tokens per reply",
             f"{'clients':>7}  {'':<9} {'TTFT mean':>9} {'TTFT max':>9} {'tokens/s':>9}"]
    for n, r in res["runs"].items():
        for name in ("generate", "served"):
            s = r[name]
            lines.append(f"{n:>7}  {name:<9} {s['ttft_mean']:>8.2f}s {s['ttft_max']:>8.2f}s {s['tokens_per_s']:>9.1f}")
        g, s = r["generate"], r["served"]
        lines.append(f"{'':>7}  served/generate: tokens/s {s['tokens_per_s'] / g['tokens_per_s']:.2f}x, "
                     f"mean TTFT {s['ttft_mean'] / g['ttft_mean']:.2f}x"
                     + (f"; batches of {r['batch_sizes']}" if r["batch_sizes"] is not None else ""))
    return lines

"""Check a GGUF export by running it: the held-out prompts answered greedily by the tuned model in the studio,
by llama.cpp (``llama-cpp-python``, the optional extra) and by transformers' GGUF loader, side by side.

Replies are compared token by token (in the run's tokenizer): ``first_match`` says whether the first
``FIRST_TOKENS`` tokens are the same, ``identical`` whether the whole replies are. Quantisation can change replies;
the result says so rather than hiding it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

FIRST_TOKENS = 8
MAX_NEW_TOKENS = 32

Progress = Callable[[float, str], None]


def check_gguf(run_dir, gguf: Path, prompts: list[list[dict]], chat=None, report: Progress | None = None,
               max_new_tokens: int = MAX_NEW_TOKENS, use_llama_cpp: bool | None = None) -> dict:
    """Greedy replies of the tuned model and of the GGUF file to ``prompts``; agreement and speed. ``chat``: loaded
    ``ChatModels`` of the run (or a function that returns them), else they are loaded here."""
    from studio.core.generate import ChatModels, Sampling
    from studio.export.llamacpp import has_llama_cpp

    report = report or (lambda f, m: None)
    use_llama_cpp = has_llama_cpp() if use_llama_cpp is None else use_llama_cpp
    report(0.0, "loading the tuned model")
    chat = chat() if callable(chat) else chat or ChatModels.for_run(run_dir)
    tok = chat.tokenizer
    sampling = Sampling(max_new_tokens=max_new_tokens, temperature=0.0)
    rows = [{"prompt": _last_user(p)} for p in prompts]
    speed: dict[str, list[float]] = {"studio": [0.0, 0.0]}
    for i, messages in enumerate(prompts):
        report(0.05 + 0.25 * i / max(1, len(prompts)), f"the tuned model's reply {i + 1}/{len(prompts)}")
        start = time.perf_counter()
        rows[i]["tuned"] = chat.reply(messages, tuned=True, sampling=sampling).strip()
        _count(speed["studio"], tok, rows[i]["tuned"], time.perf_counter() - start)
    loaders = []
    if use_llama_cpp:
        loaders.append(("llama.cpp", _llama_cpp_replies))
    loaders.append(("transformers", _transformers_replies))
    notes = []
    for n, (name, replies) in enumerate(loaders):
        report(0.3 + 0.7 * n / len(loaders), f"loading the GGUF file with {name}")
        try:
            texts, seconds = replies(gguf, tok, prompts, max_new_tokens)
        except Exception as err:  # noqa: BLE001 - a file that does not load is the finding, shown as such
            notes.append(f"{name} could not run {gguf.name}: {type(err).__name__}: {str(err)[:200]}")
            continue
        speed[name] = [0.0, 0.0]
        for row, text, sec in zip(rows, texts, seconds):
            row[name] = text.strip()
            _count(speed[name], tok, row[name], sec)
            row[f"{name}_first_match"], row[f"{name}_identical"] = agreement(tok, row["tuned"], row[name])
    if not use_llama_cpp:
        from studio.export.llamacpp import missing_extra

        notes.append(missing_extra("checking the file in llama.cpp"))
    summary = {}
    for name in [n for n, _ in loaders if n in speed]:
        summary[name] = {"first_match": sum(r[f"{name}_first_match"] for r in rows),
                         "identical": sum(r[f"{name}_identical"] for r in rows), "prompts": len(rows)}
        early, late = len(rows) - summary[name]["first_match"], summary[name]["first_match"] - summary[name]["identical"]
        if early:
            notes.append(f"{name}: {early} of {len(rows)} replies differ from the tuned model's within the first "
                         f"{FIRST_TOKENS} tokens (the conversion or quantisation changes greedy choices)")
        if late:
            notes.append(f"{name}: {late} of {len(rows)} replies start the same but differ later on")
    tps = {name: round(tokens / sec, 1) for name, (tokens, sec) in speed.items() if sec > 0}
    report(1.0, "checked")
    return {"gguf": gguf.name, "first_tokens": FIRST_TOKENS, "max_new_tokens": max_new_tokens, "rows": rows,
            "summary": summary, "tokens_per_s": tps, "notes": notes, "cpus": os.cpu_count()}


def agreement(tok, reference: str, reply: str) -> tuple[bool, bool]:
    """(the first FIRST_TOKENS tokens agree, the whole replies agree), in the run's tokenizer."""
    a = tok(reference, add_special_tokens=False)["input_ids"]
    b = tok(reply, add_special_tokens=False)["input_ids"]
    return a[:FIRST_TOKENS] == b[:FIRST_TOKENS], a == b


def _count(acc: list[float], tok, text: str, seconds: float) -> None:
    acc[0] += len(tok(text, add_special_tokens=False)["input_ids"])
    acc[1] += seconds


def _llama_cpp_replies(gguf: Path, tok, prompts, max_new_tokens):
    """Greedy replies from llama.cpp, prompted with the same text the studio's chat writes."""
    from llama_cpp import Llama

    from studio.core.chat_template import render_prompt

    # every CPU, as llama.cpp's own tools do on a machine without hyper-threads (a busy machine slows it down a lot)
    llm = Llama(str(gguf), n_ctx=2048, n_threads=os.cpu_count() or 1, verbose=False, seed=0)
    stops = {llm.token_eos()}
    for special in getattr(tok, "all_special_tokens", []):  # e.g. <|im_end|>, <|eot_id|>
        ids = llm.tokenize(special.encode(), add_bos=False, special=True)
        if len(ids) == 1:
            stops.add(ids[0])
    texts, seconds = [], []
    for messages in prompts:
        start = time.perf_counter()
        ids = llm.tokenize(render_prompt(tok, messages).encode(), add_bos=False, special=True)
        out = []
        llm.reset()
        for token in llm.generate(ids, temp=0.0, top_k=1, repeat_penalty=1.0):
            if token in stops or len(out) >= max_new_tokens:
                break
            out.append(token)
        texts.append(llm.detokenize(out).decode("utf-8", "replace"))
        seconds.append(time.perf_counter() - start)
    return texts, seconds


def _transformers_replies(gguf: Path, tok, prompts, max_new_tokens):
    """Greedy replies from transformers' GGUF loader, with the tokenizer and chat template read from the file."""
    import torch

    from studio.core import models
    from studio.core.chat_template import render_prompt

    gtok = models.load_tokenizer(str(gguf))
    model = models.load_causal_lm(str(gguf), dtype=torch.float32).eval()
    texts, seconds = [], []
    for messages in prompts:
        start = time.perf_counter()
        enc = gtok(render_prompt(gtok, messages), return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            ids = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, temperature=None, top_p=None,
                                 top_k=None, pad_token_id=gtok.pad_token_id or gtok.eos_token_id)
        texts.append(gtok.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True))
        seconds.append(time.perf_counter() - start)
    return texts, seconds


def _last_user(messages: list[dict]) -> str:
    users = [m["content"] for m in messages if m["role"] == "user"]
    return users[-1] if users else messages[-1]["content"]

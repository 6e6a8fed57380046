"""Attention implementations by batch length, and packed against padded batches, on this machine.

    python benchmarks/bench_attention.py [--model smollm2] [--precision bf16|fp32] [--lengths 64,128,256,512,1024]

One LoRA step (r16 on q/k/v/o, forward and backward, the output layer only where tokens are learned) of the model,
timed with transformers' eager attention and with PyTorch's SDPA at each length (the best of three, in alternating
order), then the shipped chat samples in length-sorted batches of 8, padded and packed (padding-free, positions
restarting at each example) with each implementation, and with ``--compile`` torch.compile against plain execution. It prints tokens/s and the ratios that
``studio.core.attention`` bases its ``auto`` choice on, and checks that packed and padded batches gave the same loss.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _model(source: str, precision: str):
    import torch

    from studio.core import models
    from studio.engine.bench import _lora

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    model = _lora(models.load_causal_lm(source, dtype=dtype))
    model.get_base_model().config.use_cache = False  # with a cache transformers does not look for packed rows
    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.float()
    model.train()
    return model


def _step(model, batch: dict) -> float:
    from studio.core.trained_positions import loss_at_trained_positions

    loss, _ = loss_at_trained_positions(model, batch)
    loss.backward()
    model.zero_grad(set_to_none=True)
    return float(loss.detach())


def by_length(model, lengths: list[int], tokens_per_batch: int = 1024) -> list[dict]:
    import torch

    from studio.core.attention import AttentionPlan

    rows = []
    for length in lengths:
        batch_size = max(1, tokens_per_batch // length)
        ids = torch.randint(100, 4000, (batch_size, length))
        labels = ids.clone()
        labels[:, : length // 2] = -100  # the first half is prompt
        batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
        best = {"sdpa": float("inf"), "eager": float("inf")}
        for rep in range(3):
            for impl in ("sdpa", "eager") if rep % 2 == 0 else ("eager", "sdpa"):
                AttentionPlan(impl, "").apply(model, length)
                _step(model, batch)  # warm-up at this shape
                t = time.perf_counter()
                _step(model, batch)
                best[impl] = min(best[impl], time.perf_counter() - t)
        n = batch_size * length
        rows.append({"length": length, "batch": batch_size, "sdpa": n / best["sdpa"], "eager": n / best["eager"]})
        print(f"  {length:>5} tokens x {batch_size:<3} sdpa {rows[-1]['sdpa']:7.1f} tok/s   eager {rows[-1]['eager']:7.1f} "
              f"tok/s   eager/sdpa {rows[-1]['eager'] / rows[-1]['sdpa']:.2f}", flush=True)
    return rows


def packed_vs_padded(model, source: str, n: int = 48) -> dict:
    from studio.core import models
    from studio.engine.bench import bench_records
    from studio.core.attention import AttentionPlan
    from studio.core.hardware import Hardware
    from studio.engine.sampling import LengthBucketSampler
    from studio.tasks.chat.encode import encode_records
    from studio.tasks.chat.model import make_collator

    tok = models.load_tokenizer(source)
    examples, _ = encode_records(tok, bench_records(n), 512)
    batches = LengthBucketSampler([len(e["input_ids"]) for e in examples], 8).batches()
    hw = Hardware("cpu", "fp32")
    out = {}
    for impl in ("sdpa", "eager"):
        AttentionPlan(impl, "").apply(model, 0)
        for packed in (False, True):
            collate = make_collator(tok, hw, packed=packed)
            _step(model, collate([examples[i] for i in batches[0]]))  # warm-up
            t, tokens, losses = time.perf_counter(), 0, []
            for b in batches:
                losses.append(_step(model, collate([examples[i] for i in b])))
                tokens += sum(len(examples[i]["input_ids"]) for i in b)
            key = f"{impl} {'packed' if packed else 'padded'}"
            out[key] = {"tokens_per_second": tokens / (time.perf_counter() - t), "losses": losses}
            print(f"  {key:<13} {out[key]['tokens_per_second']:7.1f} tok/s", flush=True)
    for impl in ("sdpa", "eager"):
        a, b = out[f"{impl} padded"]["losses"], out[f"{impl} packed"]["losses"]
        worst = max(abs(x - y) / max(abs(x), 1e-6) for x, y in zip(a, b))
        print(f"  {impl}: packed / padded tokens/s {out[f'{impl} packed']['tokens_per_second'] / out[f'{impl} padded']['tokens_per_second']:.2f}, "
              f"largest relative loss difference {worst:.1e}")
    return out


def compiled(model, length: int = 128, steps: int = 6) -> dict:
    """torch.compile against plain eager execution: the first (compiling) step, a step at a new length, and
    steady steps at mixed lengths."""
    import torch

    from studio.core.attention import AttentionPlan

    AttentionPlan("eager", "").apply(model, length)
    out = {}
    for name, run in (("plain", model), ("compiled", torch.compile(model, dynamic=True))):
        def step(n: int, run=run) -> float:
            ids = torch.randint(100, 4000, (8, n))
            labels = ids.clone()
            labels[:, : n // 2] = -100
            t = time.perf_counter()
            _step(run, {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels})
            return time.perf_counter() - t

        first, new_length = step(length), step(length - 32)
        steady = sum(step(length + d) for d in (0, -16, 16, 0, -32, 32)[:steps]) / steps
        out[name] = {"first_step_s": first, "new_length_s": new_length, "steady_step_s": steady}
        print(f"  {name:<9} first step {first:6.1f} s   new length {new_length:5.2f} s   steady {steady:5.2f} s/step", flush=True)
    gain = out["plain"]["steady_step_s"] - out["compiled"]["steady_step_s"]
    cost = out["compiled"]["first_step_s"] - out["plain"]["first_step_s"]
    print(f"  compiled steps are {out['plain']['steady_step_s'] / out['compiled']['steady_step_s']:.2f}x as fast; "
          + (f"compiling pays for itself after about {cost / gain:.0f} steps" if gain > 0 else "compiling never pays here"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--precision", choices=("bf16", "fp32"), default="bf16")
    ap.add_argument("--lengths", default="64,128,256,512,1024,2048")
    ap.add_argument("--examples", type=int, default=48, help="chat examples for packed against padded")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (minutes on a small CPU)")
    args = ap.parse_args(argv)
    import torch

    torch.manual_seed(0)
    model = _model(args.model, args.precision)
    print(f"{args.model}, LoRA, {args.precision} frozen weights, {torch.get_num_threads()} threads")
    print("eager and SDPA by batch length:")
    by_length(model, [int(x) for x in args.lengths.split(",") if x.strip()])
    print("packed and padded batches of the shipped chat samples:")
    packed_vs_padded(model, args.model, args.examples)
    if args.compile:
        print("torch.compile, batches of 8 around 128 tokens:")
        compiled(model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

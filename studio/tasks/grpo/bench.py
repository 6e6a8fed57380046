"""``python -m studio bench --grpo``: how fast GRPO generates and trains, against plain batched generation.

A short GRPO run (LoRA, the arithmetic prompts with the example's two rewards) through the studio's own training
path. Each step is split by the run's ``generation`` events (TRL's generation timed where it happens):
  generation tokens/s  tokens of the sampled replies per second of generation
  training tokens/s    prompt + reply tokens per second of the rest of the step (rewards, log-probabilities,
                       the backward pass and the optimizer step)
The baseline: ``model.generate`` of the base model (same precision) on the same number of prompts, each repeated
once per generation, with the same reply length and sampling, one batch per step.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from studio.core.config import StudioConfig

PROMPTS = Path(__file__).resolve().parents[3] / "assets" / "datasets" / "arithmetic_prompts.jsonl"


def bench_config(source: str, workdir: str, steps: int, prompts: int, generations: int,
                 max_new_tokens: int, data: str = "") -> StudioConfig:
    return StudioConfig().with_overrides([
        "task=grpo", "method=lora", f"model.source={source}", f"data.train={data or PROMPTS}", "data.eval_fraction=0",
        "data.max_length=256", "data.system_prompt=Answer briefly.", f"output_dir={Path(workdir) / 'run'}",
        f"train.max_steps={steps}", f"train.batch_size={prompts * generations}", "train.grad_accum=1",
        "train.learning_rate=2e-3", "train.warmup_ratio=0", "train.logging_steps=1", f"train.save_steps={steps + 1}",
        f"grpo.generations={generations}", f"grpo.max_new_tokens={max_new_tokens}", "grpo.temperature=1.0",
        "grpo.samples=0", "lora.r=16", "lora.alpha=32", "lora.dropout=0",
        "lora.target_modules=q_proj,k_proj,v_proj,o_proj",
        "rewards=[{kind: numeric_match, column: answer}, {kind: length, max_words: 8}]",
    ])


def split_steps(events: list[dict]) -> dict:
    """Totals of a run's logged steps (``train.logging_steps=1``): step seconds (between logs, the first from the
    start of training), generation seconds and tokens, prompt + reply tokens."""
    logs = [e for e in events if e.get("type") == "log"]
    gens = {e["step"]: e for e in events if e.get("type") == "generation"}
    out = {"steps": 0, "step_seconds": 0.0, "generation_seconds": 0.0, "generated_tokens": 0, "replies": 0,
           "trained_tokens": 0}
    last_t, last_tokens = 0.0, 0
    for e in logs:
        g = gens.get(e["step"], {})
        out["steps"] += 1
        out["step_seconds"] += e["elapsed"] - last_t
        out["trained_tokens"] += e["tokens_seen"] - last_tokens
        out["generation_seconds"] += g.get("seconds", 0.0)
        out["generated_tokens"] += g.get("tokens", 0)
        out["replies"] += g.get("replies", 0)
        last_t, last_tokens = e["elapsed"], e["tokens_seen"]
    return out


def plain_generate(config: StudioConfig, batches: int) -> dict:
    """``model.generate`` of the base model on the run's prompts: seconds and sampled tokens (up to and with the
    end-of-reply token, as TRL counts a reply), one batch of prompts x generations per step."""
    import torch

    from studio.core import models
    from studio.core.hardware import detect_hardware, frozen_dtype
    from studio.tasks.grpo import data as grpo_data
    from studio.tasks.trl_reference import load_tokenizer

    tok, _ = load_tokenizer(config)
    tok.padding_side = "left"
    hw = detect_hardware(config.train.precision)
    model = models.load_causal_lm(config.model.source, dtype=frozen_dtype(hw, config.method)).to(hw.device).eval()
    records, _, _ = grpo_data.splits(config)
    g, per = config.grpo.generations, config.train.batch_size // config.grpo.generations
    eos = {tok.eos_token_id, tok.pad_token_id} | set(_as_list(model.generation_config.eos_token_id))
    seconds, tokens = 0.0, 0
    for b in range(batches):
        chosen = [records[(b * per + i) % len(records)]["prompt"] for i in range(per)]
        texts = [tok.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in chosen for _ in range(g)]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(hw.device)
        t = time.perf_counter()
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=config.grpo.max_new_tokens, do_sample=True,
                                 temperature=config.grpo.temperature, top_k=0, top_p=1.0, pad_token_id=tok.pad_token_id)
        if hw.device == "cuda":
            torch.cuda.synchronize()
        seconds += time.perf_counter() - t
        for row in out[:, enc["input_ids"].shape[1]:].tolist():
            ends = [i for i, x in enumerate(row) if x in eos]
            tokens += ends[0] + 1 if ends else len(row)
    return {"seconds": seconds, "tokens": tokens}


def _as_list(x) -> list:
    return [] if x is None else list(x) if isinstance(x, (list, tuple)) else [x]


def run_bench(source: str, train, steps: int = 3, prompts: int = 2, generations: int = 4,
              max_new_tokens: int = 32, data: str = "") -> dict:
    """``train``: the studio's training entry (``studio.engine.train.run_training``; the CLI passes it in)."""
    from studio.core.runfolder import RunFolder

    with tempfile.TemporaryDirectory() as tmp:
        config = bench_config(source, tmp, steps, prompts, generations, max_new_tokens, data)
        train(config)
        events = RunFolder(config.output_dir).read_events()
        plain = plain_generate(config, steps)
    start = next((e for e in events if e.get("type") == "start"), {})
    s = split_steps(events)
    if not s["steps"] or not s["generation_seconds"]:
        raise RuntimeError("bench --grpo: the run logged no generation; see the run's events")
    rest = max(s["step_seconds"] - s["generation_seconds"], 1e-9)
    gen_rate = s["generated_tokens"] / s["generation_seconds"]
    plain_rate = plain["tokens"] / max(plain["seconds"], 1e-9)
    return {
        "model": source, "steps": s["steps"], "prompts_per_step": prompts, "generations": generations,
        "max_new_tokens": max_new_tokens, "device": start.get("device", ""), "precision": start.get("precision", ""),
        "seconds_per_step": round(s["step_seconds"] / s["steps"], 2),
        "generation_seconds_per_step": round(s["generation_seconds"] / s["steps"], 2),
        "generation_share": round(s["generation_seconds"] / s["step_seconds"], 3),
        "generation_tokens_per_second": round(gen_rate, 1),
        "training_tokens_per_second": round(s["trained_tokens"] / rest, 1),
        "generated_tokens": s["generated_tokens"], "replies": s["replies"], "trained_tokens": s["trained_tokens"],
        "plain_generate_tokens_per_second": round(plain_rate, 1), "plain_generated_tokens": plain["tokens"],
        "generation_vs_plain_generate": round(gen_rate / plain_rate, 2) if plain_rate else None,
    }


def report(res: dict) -> list[str]:
    return [
        f"GRPO on {res['model']} ({res['device']}, {res['precision']}, LoRA): {res['steps']} steps of "
        f"{res['prompts_per_step']} prompts x {res['generations']} replies, up to {res['max_new_tokens']} new tokens",
        f"  {res['seconds_per_step']:.2f} s per step, {res['generation_seconds_per_step']:.2f} s of it generating "
        f"({100 * res['generation_share']:.0f}%)",
        f"  generation  {res['generation_tokens_per_second']:>8.1f} tokens/s   ({res['generated_tokens']} reply tokens)",
        f"  training    {res['training_tokens_per_second']:>8.1f} tokens/s   ({res['trained_tokens']} prompt + reply "
        "tokens, the rest of the step)",
        f"  plain model.generate, same batches: {res['plain_generate_tokens_per_second']:.1f} tokens/s "
        f"(GRPO's generation at {res['generation_vs_plain_generate']}x of it)",
    ]

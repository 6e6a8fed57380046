"""GPU figures in one go (under 5 minutes on one H100/H200): LoRA on a Llama-3.2-1B-shaped model (as the studio
runs it, with gradient checkpointing, and with Liger kernels where liger-kernel is installed) and QLoRA on a
Llama-3.1-8B-shaped model, both built from configs with random weights (speed and memory do not depend on the
weights' values, and nothing is downloaded), each with tokens/s, MFU against the bf16 matmul peak measured here,
peak memory, and the studio's memory estimate next to it.

    bash benchmarks/gpu_check.sh            # on a machine with a CUDA GPU
    python benchmarks/gpu_check.py --smoke  # tiny shapes on a CPU: checks that the script itself works

The model is prepared by the studio's own loading (``studio.core.loading``: the frozen base in bf16, LoRA on all
linear layers, adapters in fp32; QLoRA through bitsandbytes when it is installed) and trained for a few steps
with the studio's loss at learned positions, on batches where half the tokens are learned from, with the attention
``studio.core.attention`` picks (FlashAttention 2 where flash-attn is installed, else SDPA).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHAPES = {  # (hidden, intermediate, layers, heads, kv heads, vocab)
    "llama-3.2-1b": (2048, 8192, 16, 32, 8, 128256),
    "llama-3.1-8b": (4096, 14336, 32, 32, 8, 128256),
    "tiny": (64, 128, 2, 4, 2, 1024),
}


def build(shape: str, dtype, device: str, quant=None):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    h, i, n, a, kv, v = SHAPES[shape]
    cfg = LlamaConfig(hidden_size=h, intermediate_size=i, num_hidden_layers=n, num_attention_heads=a,
                      num_key_value_heads=kv, vocab_size=v, max_position_embeddings=4096, tie_word_embeddings=shape != "llama-3.1-8b")
    if quant is None:
        with torch.device(device):
            model = LlamaForCausalLM(cfg).to(dtype)
        return model, cfg
    # QLoRA: quantize a random model as from_pretrained would (layer by layer, on the GPU)
    from transformers import BitsAndBytesConfig  # noqa: F401 - bitsandbytes must be importable
    import bitsandbytes as bnb

    with torch.device("meta"):
        model = LlamaForCausalLM(cfg)
    for name, mod in list(model.named_modules()):
        for child_name, child in list(mod.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if isinstance(child, torch.nn.Linear) and "lm_head" not in full:
                q = bnb.nn.Linear4bit(child.in_features, child.out_features, bias=False, compute_dtype=dtype,
                                      quant_type="nf4", device=device)
                w = torch.randn(child.out_features, child.in_features, dtype=dtype, device=device) * 0.02
                q.weight = bnb.nn.Params4bit(w, requires_grad=False, quant_type="nf4").to(device)
                setattr(mod, child_name, q)
    model.to_empty(device=device)
    for name, p in model.named_parameters():
        if p.dtype.is_floating_point and p.__class__.__name__ != "Params4bit":
            torch.nn.init.normal_(p, 0, 0.02) if p.dim() > 1 else torch.nn.init.ones_(p)
    return model, cfg


def sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def train_steps(model, cfg, device: str, batch: int, seq: int, steps: int, fused_loss: bool = False) -> dict:
    """``fused_loss``: the model computes its own loss from the labels (Liger's fused linear cross-entropy, which
    never builds the logits) instead of the studio's loss at learned positions."""
    import torch

    from studio.core.trained_positions import loss_at_trained_positions

    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, cfg.vocab_size, (batch, seq), device=device)
    labels = ids.clone()
    labels[:, : seq // 2] = -100  # a prompt half, an answer half
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        sync(device)
        t = time.perf_counter()
        loss = model(**inputs).loss if fused_loss else loss_at_trained_positions(model, inputs)[0]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync(device)
        times.append(time.perf_counter() - t)
    step = sorted(times[1:])[len(times[1:]) // 2] if len(times) > 1 else times[0]  # median, after the first
    peak = torch.cuda.max_memory_allocated() if device == "cuda" else 0
    return {"step_s": round(step, 4), "tokens_per_s": round(batch * seq / step, 1), "peak_memory_gb": round(peak / 2**30, 2)}


def one(shape: str, method: str, device: str, batch: int, seq: int, steps: int, peak: float, variant: str = "") -> dict:
    """One training measurement. ``variant``: "" (the studio's defaults), "checkpointing" (gradient checkpointing
    on) or "liger" (Liger kernels, when the liger-kernel package is installed)."""
    import torch

    from studio.core import estimate as est
    from studio.core.config import StudioConfig
    from studio.core.hardware import Hardware
    from studio.core.loading import attach_lora
    from studio.core.params import count_parameters

    dtype = torch.bfloat16 if device == "cuda" or shape == "tiny" else torch.float32
    try:
        model, cfg = build(shape, dtype, device, quant="nf4" if method == "qlora" else None)
    except ImportError as err:
        return {"shape": shape, "method": method, "skipped": f"{err}; pip install bitsandbytes"}
    from studio.core.attention import plan

    config = StudioConfig().with_overrides([f"method={method}", "lora.r=16", "lora.alpha=32", "lora.dropout=0"])
    model.config.use_cache = False
    attention = plan("auto", "off", device, "bf16" if device == "cuda" else "fp32")
    impl = attention.for_length(seq)
    try:
        model.set_attn_implementation(impl)  # checks that the kernels exist (flash-attn) before it is used
    except (ImportError, ValueError) as err:
        impl = f"sdpa ({impl} failed: {str(err).splitlines()[0][:80]})"
        model.set_attn_implementation("sdpa")
    if variant == "liger":
        try:
            from liger_kernel.transformers import _apply_liger_kernel_to_instance
        except ImportError:
            return {"shape": shape, "method": method, "variant": variant, "skipped": "pip install liger-kernel"}
        _apply_liger_kernel_to_instance(model=model)
    if variant == "checkpointing":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    if method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    model = attach_lora(model, config)
    total, trainable = count_parameters(model)
    out = {"shape": shape, "method": method, "variant": variant or "default", "attention": impl, "batch": batch,
           "seq": seq, "parameters": total, "trainable": trainable}
    out.update(train_steps(model, cfg, device, batch, seq, steps, fused_loss=variant == "liger"))
    flops_per_token = 4.0 * total + 2.0 * trainable
    out["mfu"] = round(out["tokens_per_s"] * flops_per_token / peak, 4)
    hw = Hardware(device, "bf16" if device == "cuda" else "fp32")
    shape_ = est.ModelShape(parameters=total, layers=cfg.num_hidden_layers, hidden_size=cfg.hidden_size,
                            vocab_size=cfg.vocab_size, intermediate_size=cfg.intermediate_size)
    dev = est.detect_device()
    e = est.estimate(shape_, method, precision=hw.precision, batch_size=batch, seq_len=seq, steps=steps, device=dev,
                     gradient_checkpointing=variant == "checkpointing")
    out["estimate_gb"] = round(e.total_bytes / 2**30, 2)
    out["estimate_over_measured"] = round(e.total_bytes / 2**30 / out["peak_memory_gb"], 2) if out["peak_memory_gb"] else None
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true", help="tiny shapes on whatever device is here")
    ap.add_argument("--json", default="", help="also write the figures to this file")
    args = ap.parse_args()
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.smoke:
        raise SystemExit("gpu_check: no CUDA GPU here; use --smoke to check the script on a CPU")
    from studio.engine.bench import matmul_peak

    peak = matmul_peak("bf16" if device == "cuda" else "fp32")
    results = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
               "bf16_matmul_peak_tflops": round(peak / 1e12, 1), "runs": []}
    runs = [("tiny", "lora", 2, 64, 3, ""), ("tiny", "lora", 2, 64, 3, "checkpointing"), ("tiny", "qlora", 2, 64, 3, "")]
    if not args.smoke:
        runs = [("llama-3.2-1b", "lora", 8, 1024, 8, ""), ("llama-3.2-1b", "lora", 8, 1024, 8, "checkpointing"),
                ("llama-3.2-1b", "lora", 8, 1024, 8, "liger"), ("llama-3.1-8b", "qlora", 1, 1024, 4, "")]
    for shape, method, batch, seq, steps, variant in runs:
        t = time.time()
        r = one(shape, method, device, batch, seq, steps, peak, variant)
        r["seconds"] = round(time.time() - t, 1)
        results["runs"].append(r)
        print(json.dumps(r), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

"""Memory and time estimates: calibrated on the measured SmolLM2-135M CPU runs, sane in every direction."""

import pytest

from studio.core import estimate as est
from studio.core.config import StudioConfig

GB = est.GB
SMOLLM2 = est.ModelShape(parameters=134_515_008, layers=30, hidden_size=576, vocab_size=49152, intermediate_size=1536)
LLAMA_8B = est.ModelShape(parameters=8_030_261_248, layers=32, hidden_size=4096, vocab_size=128256, intermediate_size=14336)
CPU2 = est.Device("cpu", "CPU (2 cores)", 2, 24 * GB, 16 * GB)
H100 = est.Device("cuda", "NVIDIA H100 80GB HBM3", 16, 80 * GB, 79 * GB)
ATTN = ["q_proj", "k_proj", "v_proj", "o_proj"]


def test_cpu_lora_matches_the_measured_run():
    # measured: LoRA r16 on q/k/v/o, batch 8 x ~52 tokens, 2 cores: ~1.9 s a step, ~2.4 GB peak
    e = est.estimate(SMOLLM2, "lora", batch_size=8, seq_len=52, steps=10, lora_r=16, target_modules=ATTN, device=CPU2)
    assert 1.6 <= e.step_seconds <= 2.3
    assert 1.8 * GB <= e.total_bytes <= 3.0 * GB
    assert e.fits == "yes" and not e.warnings
    assert e.precision == "fp32"


def test_cpu_full_is_slower_and_bigger_than_lora():
    # measured: full fine-tuning ~3.6 s a step, ~3.3 GB
    full = est.estimate(SMOLLM2, "full", batch_size=8, seq_len=52, steps=10, device=CPU2)
    lora = est.estimate(SMOLLM2, "lora", batch_size=8, seq_len=52, steps=10, device=CPU2)
    assert 2.8 <= full.step_seconds <= 4.5
    assert 2.6 * GB <= full.total_bytes <= 4.5 * GB
    assert full.total_bytes > lora.total_bytes and full.step_seconds > lora.step_seconds
    assert full.trainable_parameters == SMOLLM2.parameters
    assert full.optimizer == 8 * SMOLLM2.parameters and full.gradients == 4 * SMOLLM2.parameters


def test_parts_add_up_and_scale():
    e = est.estimate(SMOLLM2, "lora", batch_size=8, seq_len=128, device=CPU2)
    assert e.total_bytes == e.weights + e.gradients + e.optimizer + e.activations + e.overhead
    bigger = est.estimate(SMOLLM2, "lora", batch_size=16, seq_len=128, device=CPU2)
    assert bigger.activations == pytest.approx(2 * e.activations, rel=0.01)
    assert bigger.step_seconds > e.step_seconds
    ckpt = est.estimate(SMOLLM2, "lora", batch_size=8, seq_len=128, gradient_checkpointing=True, device=CPU2)
    assert ckpt.activations < e.activations / 2 and ckpt.step_seconds > e.step_seconds
    accum = est.estimate(SMOLLM2, "lora", batch_size=8, seq_len=128, grad_accum=4, device=CPU2)
    assert accum.activations == e.activations and accum.step_seconds > 3 * e.step_seconds


def test_gpu_precisions_and_qlora():
    lora = est.estimate(LLAMA_8B, "lora", device=H100)
    qlora = est.estimate(LLAMA_8B, "qlora", device=H100)
    full = est.estimate(LLAMA_8B, "full", device=H100)
    assert lora.precision == "bf16"
    assert lora.weights == pytest.approx(2 * LLAMA_8B.parameters + 4 * lora.trainable_parameters, rel=0.01)
    assert qlora.weights < lora.weights / 2.5
    assert full.fits == "no" and any("lower the batch size" in w or "qlora" in w for w in full.warnings)
    assert lora.fits == "yes" and qlora.fits == "yes"
    assert lora.step_seconds < 5  # an 8B LoRA step on an H100 takes about a second, not minutes


def test_warns_when_it_will_not_fit():
    small = est.Device("cpu", "CPU (2 cores)", 2, 4 * GB, 1 * GB)
    e = est.estimate(SMOLLM2, "full", batch_size=64, seq_len=512, device=small)
    assert e.fits == "no"
    assert "only 1.0 GB is free" in e.warnings[0] and "use lora" in e.warnings[0]
    tight = est.Device("cpu", "CPU", 2, 4 * GB, int(est.estimate(SMOLLM2, "lora", device=CPU2).total_bytes / 0.9))
    assert est.estimate(SMOLLM2, "lora", device=tight).fits == "tight"


def test_qlora_on_cpu_warns():
    e = est.estimate(SMOLLM2, "qlora", device=CPU2)
    assert any("qlora on a CPU" in w for w in e.warnings)


def test_lora_parameter_count():
    # SmolLM2 q/k/v/o with r16: 30 layers x 16 x (in + out); without kv_size k and v are taken as wide as q
    n = est.lora_parameters(SMOLLM2, 16, ATTN)
    assert 1.0e6 < n < 2.5e6
    assert est.lora_parameters(SMOLLM2, 16, ["all-linear"]) > 2 * n
    assert est.lora_parameters(SMOLLM2, 32, ATTN) == 2 * n


def test_lora_parameter_count_follows_grouped_query_attention(tiny_model_dir):
    """Keys and values narrower than the hidden size (grouped-query attention, as in SmolLM2: 3 heads of 64, not
    576): the estimate counts the weights peft trains."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from studio.core import models

    info = models.describe(tiny_model_dir)  # 4 heads of 16, 2 of them for keys and values
    assert info["kv_size"] == 32 and info["intermediate_size"] == 128
    shape = est.ModelShape.from_describe(info)
    for targets in (ATTN, ["all-linear"]):
        lora = LoraConfig(r=4, target_modules="all-linear" if targets == ["all-linear"] else targets)
        model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), lora)
        assert est.lora_parameters(shape, 4, targets) == sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_shape_fills_in_what_describe_leaves_out():
    s = est.ModelShape.from_describe({"parameters": 134_515_008, "layers": 30, "hidden_size": 576, "vocab_size": 49152})
    assert 1000 < s.intermediate_size < 2000
    guess = est.ModelShape(parameters=7_000_000_000)
    assert guess.layers > 10 and guess.hidden_size >= 1024


def test_for_config_uses_data_size_and_max_steps():
    cfg = StudioConfig().with_overrides(["train.max_steps=30", "train.batch_size=8"])
    e = est.estimate_for_config(cfg, SMOLLM2, n_train=60, avg_tokens=52, device=CPU2)
    assert e.steps == 30
    assert e.total_seconds == pytest.approx(e.steps * e.step_seconds + 8 + e.weights / (2 * GB), rel=0.15)
    cfg = StudioConfig().with_overrides(["train.max_steps=-1", "train.epochs=2", "train.batch_size=4"])
    assert est.estimate_for_config(cfg, SMOLLM2, n_train=100, device=CPU2).steps == 50


def test_planned_steps_and_formatting():
    from studio.core.config import StudioConfig
    from studio.core.splits import planned_steps

    cfg = StudioConfig().with_overrides(["train.max_steps=-1", "train.epochs=3", "train.batch_size=8",
                                         "train.grad_accum=1"])
    assert planned_steps(cfg, 54) == 21
    assert planned_steps(cfg, 54, world=2) == 12  # two processes each take a batch per step
    assert planned_steps(cfg.with_overrides(["train.max_steps=10"]), 54) == 10
    # the estimate plans the steps as the trainer does, processes included
    two = cfg.with_overrides(["launch.processes=2"])
    assert est.estimate_for_config(two, SMOLLM2, n_train=54, device=CPU2).steps == 12
    assert est.fmt_bytes(2.5 * GB) == "2.5 GB" and est.fmt_bytes(3 * 1024**2) == "3.0 MB"
    assert est.fmt_seconds(1.93) == "1.9 s" and est.fmt_seconds(150) == "2 min" and est.fmt_seconds(7200) == "2.0 h"


def test_detect_device_reports_free_memory():
    d = est.detect_device()
    assert d.kind in ("cpu", "cuda") and d.available_bytes > 0 and d.total_bytes >= d.available_bytes
    assert est.gpu_flops("NVIDIA H100 80GB HBM3") == est.GPU_FLOPS["h100"]
    assert est.gpu_flops("Some Future GPU") == est.GPU_DEFAULT_FLOPS

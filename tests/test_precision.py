"""Precision on a CPU: auto picks bf16 where the CPU has bf16 units, with LoRA's frozen weights in bf16 and the
trained weights in fp32; bf16 and fp32 train the tiny model to the same place."""

import json

import pytest
import torch

from studio.core.config import StudioConfig
from studio.core import hardware
from studio.core.errors import StudioError
from studio.core.runfolder import RunFolder
from studio.engine.train import run_training


def test_auto_follows_the_cpus_bf16_units(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(hardware, "cpu_bf16_units", lambda: ["amx_bf16", "avx512_bf16"])
    hw = hardware.detect_hardware("auto")
    assert hw.precision == "bf16" and "amx_bf16" in hw.reason
    assert hardware.frozen_dtype(hw, "lora") == torch.bfloat16
    assert hardware.frozen_dtype(hw, "full") == torch.float32  # trained weights stay fp32
    assert hardware.frozen_dtype(hw, "lora", "SEQ_CLS") == torch.float32  # a new head would meet bf16 inputs
    assert hardware.frozen_dtype(hw, "lora", "SEQ_2_SEQ_LM") == torch.bfloat16  # T5 and kin: no new head
    assert hardware.detect_hardware("fp32").precision == "fp32"
    monkeypatch.setattr(hardware, "cpu_bf16_units", lambda: [])
    hw = hardware.detect_hardware("auto")
    assert hw.precision == "fp32" and "no bf16 units" in hw.reason


def test_bf16_is_refused_on_a_cpu_without_bf16_units(monkeypatch, chat_file, tmp_path):
    monkeypatch.setattr(hardware, "cpu_bf16_units", lambda: [])
    cfg = StudioConfig().with_overrides([f"data.train={chat_file}", "train.precision=bf16", f"output_dir={tmp_path}/r"])
    with pytest.raises(StudioError, match="bf16 units"):
        cfg.validate(cuda_available=False)


def train(model_dir, data, out, precision):
    cfg = StudioConfig().with_overrides([
        f"model.source={model_dir}", f"data.train={data}", "train.max_steps=20", "train.batch_size=4",
        "data.max_length=64", "lora.r=8", "lora.alpha=16", "lora.dropout=0", "train.learning_rate=0.01",
        f"train.precision={precision}", f"output_dir={out}", "train.group_by_length=false"])
    assert run_training(cfg)["state"] == "finished"
    events = RunFolder(out).read_events()
    return events


@pytest.mark.skipif(not hardware.cpu_bf16_units() or torch.cuda.is_available(), reason="needs a CPU with bf16 units")
def test_bf16_and_fp32_train_the_tiny_model_alike(tiny_model_dir, chat_file, tmp_path):
    runs = {p: train(tiny_model_dir, chat_file, tmp_path / p, p) for p in ("fp32", "bf16")}
    start = {p: next(e for e in ev if e["type"] == "start") for p, ev in runs.items()}
    assert start["fp32"]["precision"] == "fp32" and start["bf16"]["precision"] == "bf16"
    loss = {p: [e["loss"] for e in ev if e["type"] == "log"] for p, ev in runs.items()}
    evals = {p: [e["eval_loss"] for e in ev if e["type"] == "eval"][-1] for p, ev in runs.items()}
    assert loss["bf16"][-1] < loss["bf16"][0] - 0.3, loss  # it learned (a random model: from about ln(vocab))
    print(f"\nlosses fp32 {loss['fp32']}\nlosses bf16 {loss['bf16']}\neval {evals}")
    assert abs(evals["bf16"] - evals["fp32"]) <= 0.02 * evals["fp32"], evals  # the same place, within 2%
    saved = json.loads((tmp_path / "bf16" / "model" / "adapter_config.json").read_text())
    assert saved["r"] == 8  # the adapter saves as usual
    from safetensors.torch import load_file

    weights = load_file(str(tmp_path / "bf16" / "model" / "adapter_model.safetensors"))
    assert all(t.dtype == torch.float32 for t in weights.values())  # trained weights in fp32

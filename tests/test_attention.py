"""Padding-free (packed) batches and the attention chosen per batch length give the same loss and gradients as
padded batches; the plan says what it picks on each device; gradient checkpointing ``auto`` follows the estimate."""

import pytest
import torch

from studio.core import models
from studio.core.config import StudioConfig
from studio.core import attention
from studio.core.hardware import Hardware
from studio.core.trained_positions import loss_at_trained_positions
from studio.tasks.chat.encode import encode_records
from studio.tasks.chat.model import load_for_training, make_collator


def _model_and_examples(tiny_model_dir, chat_file):
    from studio.data import load_dataset

    cfg = StudioConfig().with_overrides([f"model.source={tiny_model_dir}", "lora.r=4", "lora.alpha=8", "lora.dropout=0"])
    hw = Hardware("cpu", "fp32")
    torch.manual_seed(0)
    model = load_for_training(cfg, hw)
    for name, p in model.named_parameters():  # LoRA B starts at zero: move it so every adapter weight has a gradient
        if "lora_B" in name:
            p.data.normal_(0, 0.05)
    tok = models.load_tokenizer(tiny_model_dir)
    examples, _ = encode_records(tok, load_dataset(chat_file).records[:6], 64)
    assert len({len(e["input_ids"]) for e in examples}) > 1  # lengths differ: the padded batch has padding
    return model, tok, hw, examples


def _loss_and_grads(model, batch, sliced: bool):
    model.zero_grad()
    n_items = (batch["labels"] != -100).sum()
    if sliced:
        loss = loss_at_trained_positions(model, batch, num_items_in_batch=n_items)[0]
    else:
        loss = model(**batch, num_items_in_batch=n_items).loss
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("impl", ["sdpa", "eager"])
@pytest.mark.parametrize("sliced", [False, True])
def test_packed_batches_give_the_same_loss_and_gradients_as_padded(tiny_model_dir, chat_file, impl, sliced):
    model, tok, hw, examples = _model_and_examples(tiny_model_dir, chat_file)
    attention.AttentionPlan(impl, "").apply(model, 0)
    padded = make_collator(tok, hw)(examples)
    packed = make_collator(tok, hw, packed=True)(examples)
    assert packed["input_ids"].shape[0] == 1 and "attention_mask" not in packed
    assert packed["input_ids"].shape[1] == sum(len(e["input_ids"]) for e in examples) < padded["input_ids"].numel()
    assert int((packed["labels"] != -100).sum()) == int((padded["labels"] != -100).sum())  # same tokens learned
    loss_pad, g_pad = _loss_and_grads(model, padded, sliced)
    loss_pack, g_pack = _loss_and_grads(model, packed, sliced)
    assert torch.allclose(loss_pad, loss_pack, rtol=1e-4, atol=1e-5), (loss_pad, loss_pack)
    for name in g_pad:
        assert torch.allclose(g_pad[name], g_pack[name], rtol=1e-3, atol=1e-6), name


def test_a_packed_row_without_its_positions_would_mix_examples(tiny_model_dir, chat_file):
    """The check above can fail: the same row read as one long example gives another loss."""
    model, tok, hw, examples = _model_and_examples(tiny_model_dir, chat_file)
    packed = make_collator(tok, hw, packed=True)(examples)
    padded = make_collator(tok, hw)(examples)
    mixed = {k: v for k, v in packed.items() if k != "position_ids"}
    loss_pad, _ = _loss_and_grads(model, padded, False)
    loss_mixed, _ = _loss_and_grads(model, mixed, False)
    assert not torch.allclose(loss_pad, loss_mixed, rtol=1e-4, atol=1e-5)


def test_switching_attention_per_batch_keeps_the_loss(tiny_model_dir, chat_file):
    model, tok, hw, examples = _model_and_examples(tiny_model_dir, chat_file)
    batch = make_collator(tok, hw)(examples)
    plan = attention.plan("auto", "auto", "cpu", "bf16")
    losses = {}
    for impl in ("eager", "sdpa"):
        attention.AttentionPlan(impl, "").apply(model, 0)
        assert model.get_base_model().config._attn_implementation == impl
        losses[impl], _ = _loss_and_grads(model, batch, True)
    assert torch.allclose(losses["eager"], losses["sdpa"], rtol=1e-4, atol=1e-5)
    plan.apply(model, attention.CPU_EAGER_UP_TO + 1)
    assert model.get_base_model().config._attn_implementation == "sdpa"
    plan.apply(model, 64)
    assert model.get_base_model().config._attn_implementation == "eager"


def test_the_plan_on_each_device(monkeypatch):
    cpu = attention.plan("auto", "auto", "cpu", "bf16")
    assert cpu.for_length(128) == "eager" and cpu.for_length(2048) == "sdpa" and not cpu.packing
    assert "eager up to" in cpu.to_event()["attention"]
    assert attention.plan("auto", "auto", "cpu", "fp32").implementation == "sdpa"
    monkeypatch.setattr(attention, "flash_attention_installed", lambda: True)
    gpu = attention.plan("auto", "auto", "cuda", "bf16")
    assert gpu.implementation == "flash_attention_2" and gpu.packing
    assert attention.plan("auto", "auto", "cuda", "fp32").implementation == "sdpa"
    monkeypatch.setattr(attention, "flash_attention_installed", lambda: False)
    no_flash = attention.plan("auto", "auto", "cuda", "bf16")
    assert no_flash.implementation == "sdpa" and not no_flash.packing and "not installed" in no_flash.reason
    forced = attention.plan("eager", "on", "cpu", "fp32")
    assert forced.for_length(4096) == "eager" and forced.packing and "as the config asks" in forced.packing_reason


def test_config_refuses_gpu_only_kernels_on_a_cpu(chat_file):
    from studio.core.errors import StudioError

    for setting in ("train.liger_kernels=true", "train.attention=flash_attention_2"):
        cfg = StudioConfig().with_overrides([f"data.train={chat_file}", setting])
        with pytest.raises(StudioError, match="CUDA GPU"):
            cfg.validate(cuda_available=False)


def test_checkpointing_auto_follows_the_estimate():
    from studio.core import estimate as est

    shape = est.ModelShape(parameters=1_240_000_000, layers=16, hidden_size=2048, vocab_size=128_256,
                           intermediate_size=8192)
    big = est.Device("cuda", "NVIDIA test GPU", 8, 80 * est.GB, 80 * est.GB)
    small = est.Device("cuda", "NVIDIA test GPU", 8, 8 * est.GB, 8 * est.GB)
    cfg = StudioConfig().with_overrides(["train.batch_size=8", "data.max_length=2048"])
    assert cfg.train.gradient_checkpointing == "auto"
    on_big, why_big = est.checkpointing_choice(cfg, shape, big)
    on_small, why_small = est.checkpointing_choice(cfg, shape, small)
    assert not on_big and "off (auto)" in why_big
    assert on_small and "on (auto)" in why_small
    e = est.estimate_for_config(cfg, shape, device=small)
    assert any("gradient checkpointing on (auto)" in w for w in e.warnings)
    forced = StudioConfig().with_overrides(["train.gradient_checkpointing=true"])  # older configs said true/false
    assert forced.train.gradient_checkpointing == "on"
    assert est.checkpointing_choice(forced, shape, big)[0]


def test_a_compiled_model_keeps_one_attention():
    cfg = StudioConfig().with_overrides(["train.compile=true", "data.max_length=256"])
    chosen = attention.plan_for(cfg, Hardware("cpu", "bf16"))
    assert chosen.implementation == "eager" and "compiled" in chosen.reason
    long = attention.plan_for(StudioConfig().with_overrides(["train.compile=true", "data.max_length=2048"]),
                              Hardware("cpu", "bf16"))
    assert long.implementation == "sdpa"
    assert attention.plan_for(StudioConfig(), Hardware("cpu", "bf16")).implementation == "by_length"


def test_the_trainer_picks_the_attention_for_each_batch(tiny_model_dir, chat_file, tmp_path):
    """The studio's Trainer applies the run's plan to every batch it computes a loss for."""
    from transformers import TrainingArguments

    from studio.engine.sampling import make_trainer_class

    model, tok, hw, examples = _model_and_examples(tiny_model_dir, chat_file)
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none", remove_unused_columns=False)
    trainer = make_trainer_class()(model=model, args=args, train_dataset=examples)
    trainer.attention_plan = attention.plan("auto", "auto", "cpu", "bf16")
    trainer.loss_at_trained_positions = True
    config = model.get_base_model().config
    short = make_collator(tok, hw)(examples)
    assert short["input_ids"].shape[1] <= attention.CPU_EAGER_UP_TO
    config._attn_implementation = "sdpa"
    trainer.compute_loss(model, short)
    assert config._attn_implementation == "eager"
    long = {k: v.repeat(1, attention.CPU_EAGER_UP_TO // v.shape[1] + 1) for k, v in short.items()}
    trainer.compute_loss(model, long)
    assert config._attn_implementation == "sdpa"

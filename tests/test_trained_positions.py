"""The output layer and loss only at learned positions give the same loss and gradients as the full output layer."""

import torch

from studio.core import models
from studio.core.config import StudioConfig
from studio.core.hardware import Hardware
from studio.core.trained_positions import loss_at_trained_positions, supports
from studio.tasks.chat.encode import encode_records
from studio.tasks.chat.model import load_for_training, make_collator


def test_same_loss_and_gradients_as_the_full_output_layer(tiny_model_dir, chat_file):
    from studio.data import load_dataset

    cfg = StudioConfig().with_overrides([f"model.source={tiny_model_dir}", "lora.r=4", "lora.alpha=8", "lora.dropout=0"])
    hw = Hardware("cpu", "fp32")
    torch.manual_seed(0)
    model = load_for_training(cfg, hw)
    assert supports(model)
    for name, p in model.named_parameters():  # LoRA B starts at zero: move it so every adapter weight has a gradient
        if "lora_B" in name:
            p.data.normal_(0, 0.05)
    tok = models.load_tokenizer(tiny_model_dir)
    examples, _ = encode_records(tok, load_dataset(chat_file).records[:6], 64)
    batch = make_collator(tok, hw)(examples)
    share = float((batch["labels"] != -100).float().mean())
    assert share < 0.6  # the prompts are a good part of the tokens: something to leave out

    def grads(loss):
        model.zero_grad()
        loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    n_items = (batch["labels"] != -100).sum()
    full = model(**batch, num_items_in_batch=n_items).loss
    g_full = grads(full)
    sliced, outputs = loss_at_trained_positions(model, batch, num_items_in_batch=n_items)
    g_sliced = grads(sliced)
    assert outputs.logits.shape[1] < batch["input_ids"].shape[1]  # fewer positions through the output layer
    assert torch.allclose(full, sliced, rtol=1e-5, atol=1e-6), (full, sliced)
    for name in g_full:
        assert torch.allclose(g_full[name], g_sliced[name], rtol=1e-4, atol=1e-7), name
    mean_full = model(**batch).loss  # without a count: the mean over learned tokens, as the model's own loss
    assert torch.allclose(mean_full, loss_at_trained_positions(model, batch)[0], rtol=1e-5)

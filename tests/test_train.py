"""Training on a tiny random model: events, run folder, stop, resume, methods, failures."""

import json
import threading

import pytest

from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.core.runfolder import RunFolder
from studio.engine.train import run_training


def make_config(model_dir, data, out, *extra):
    base = [f"model.source={model_dir}", f"data.train={data}", f"output_dir={out}", "train.max_steps=6",
            "train.batch_size=4", "train.learning_rate=1e-3", "train.logging_steps=1", "train.eval_steps=3",
            "train.save_steps=3", "data.max_length=64", "lora.r=4", "lora.alpha=8"]
    return StudioConfig().with_overrides(base + list(extra))


def test_lora_run_writes_the_run_folder_contract(tiny_model_dir, chat_file, tmp_path):
    out = tmp_path / "run"
    status = run_training(make_config(tiny_model_dir, chat_file, out))
    assert status["state"] == "finished" and status["step"] == 6
    folder = RunFolder(out)
    events = folder.read_events()
    types = [e["type"] for e in events]
    assert types[0] == "start" and types[-1] == "end"
    assert {"log", "eval", "checkpoint"} <= set(types) and "error" not in types
    logs = [e for e in events if e["type"] == "log"]
    assert [e["step"] for e in logs] == [1, 2, 3, 4, 5, 6]
    for e in logs:
        assert {"step", "loss", "learning_rate", "epoch", "tokens_per_second"} <= set(e)
        assert e["loss"] > 0 and e["tokens_per_second"] > 0
    assert [e["step"] for e in events if e["type"] == "eval"] == [3, 6]
    start = events[0]
    assert start["train_examples"] == 36 and start["eval_examples"] == 4  # 10% held out
    assert 0 < start["trainable_parameters"] < start["parameters"]
    # the saved config is resolved (absolute data path) and replayable
    saved = StudioConfig.load(folder.config_file)
    assert saved.data.train == str(chat_file) and saved.method == "lora"
    # the adapter loads with plain peft
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    assert (folder.model_dir / "adapter_config.json").exists()
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(folder.model_dir))
    assert any("lora_" in n for n, _ in tuned.named_parameters())
    assert json.loads(folder.status_file.read_text())["state"] == "finished"


def test_dynamic_padding_pads_to_the_longest_in_the_batch(tiny_model_dir, chat_file, tmp_path):
    from studio.tasks.chat.model import make_collator
    from studio.tasks.chat.encode import encode_records
    from studio.core import models
    from studio.core.hardware import Hardware

    tok = models.load_tokenizer(tiny_model_dir)
    recs = [{"messages": [{"role": "user", "content": "hi " * n}, {"role": "assistant", "content": "ok"}]} for n in (1, 5, 9)]
    examples, _ = encode_records(tok, recs, 512)
    batch = make_collator(tok, Hardware("cpu", "fp32"))(examples)
    assert batch["input_ids"].shape == (3, max(len(e["input_ids"]) for e in examples)) and batch["input_ids"].shape[1] < 64
    assert (batch["labels"][batch["attention_mask"] == 0] == -100).all()


def test_stop_is_honoured_within_one_step_and_resume_continues(tiny_model_dir, chat_file, tmp_path):
    out = tmp_path / "run"
    stop = threading.Event()

    def on_event(ev):
        if ev["type"] == "log" and ev["step"] == 2:
            stop.set()

    cfg = make_config(tiny_model_dir, chat_file, out, "train.max_steps=20", "train.save_steps=50")
    status = run_training(cfg, on_event=on_event, stop=stop)
    folder = RunFolder(out)
    assert status["state"] == "stopped" and status["step"] == 2
    assert folder.last_checkpoint().name == "checkpoint-2" and folder.has_model()
    assert folder.read_events()[-1]["type"] == "end" and folder.read_events()[-1]["state"] == "stopped"
    assert not folder.read_events(("eval",)), "a stop request ends the run without an extra eval pass"

    with pytest.raises(StudioError, match="already holds a run"):
        run_training(make_config(tiny_model_dir, chat_file, out))
    resumed = run_training(StudioConfig.load(folder.config_file).with_overrides(["train.resume=true"]))
    assert resumed["state"] == "finished" and resumed["step"] == 20
    starts = folder.read_events(("start",))
    assert len(starts) == 2 and starts[1]["resumed_from"].endswith("checkpoint-2")
    steps = [e["step"] for e in folder.read_events(("log",))]
    assert steps[:2] == [1, 2] and steps[2] == 3 and steps[-1] == 20  # picks up where it stopped


def test_stop_file_from_another_process(tiny_model_dir, chat_file, tmp_path):
    out = tmp_path / "run"
    folder = RunFolder(out)

    def on_event(ev):
        if ev["type"] == "log" and ev["step"] == 1:
            folder.request_stop()

    status = run_training(make_config(tiny_model_dir, chat_file, out, "train.max_steps=30"), on_event=on_event)
    assert status["state"] == "stopped" and status["step"] == 1 and not folder.stop_file.exists()


def test_full_fine_tune_saves_a_whole_model(tiny_model_dir, chat_file, tmp_path):
    out = tmp_path / "full"
    status = run_training(make_config(tiny_model_dir, chat_file, out, "method=full", "train.max_steps=2"))
    assert status["state"] == "finished"
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(out / "model")
    assert model.config.num_hidden_layers == 2


def test_failed_run_records_error_and_is_not_finished(tiny_model_dir, tmp_path):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "' + "long " * 400 + '"}, {"role": "assistant", "content": "x"}]}\n')
    out = tmp_path / "run"
    with pytest.raises(StudioError, match="answer left to learn"):
        run_training(make_config(tiny_model_dir, str(data), out))
    folder = RunFolder(out)
    assert folder.read_status()["state"] == "failed"
    assert folder.read_events()[-1]["type"] == "error" and not folder.has_model()


def test_out_of_memory_mid_run_is_a_failed_run_with_a_fix(tiny_model_dir, chat_file, tmp_path, monkeypatch):
    import torch
    from transformers import Trainer

    real_step = Trainer.training_step

    def step(self, *args, **kwargs):
        if self.state.global_step >= 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "training_step", step)
    out = tmp_path / "oom"
    with pytest.raises(torch.OutOfMemoryError):
        run_training(make_config(tiny_model_dir, chat_file, out))
    folder = RunFolder(out)
    status = folder.read_status()
    assert status["state"] == "failed" and "out of memory" in status["message"]
    assert "batch size" in status["hint"] and "gradient checkpointing" in status["hint"]
    assert folder.read_events()[-1]["type"] == "error" and not folder.has_model()  # never presented as finished
    assert "Traceback" in (out / "error.log").read_text()


def test_qlora_trains_an_adapter_on_a_4bit_base(tiny_model_dir, chat_file, tmp_path, monkeypatch):
    """QLoRA: the base loads as 4-bit NF4 through bitsandbytes (on the CPU here), only the adapter learns."""
    pytest.importorskip("bitsandbytes")
    from safetensors.torch import load_file

    from studio.core import models

    loaded = []
    real_load = models.load_causal_lm
    monkeypatch.setattr(models, "load_causal_lm", lambda *a, **kw: loaded.append(real_load(*a, **kw)) or loaded[-1])
    out = tmp_path / "qlora"
    status = run_training(make_config(tiny_model_dir, chat_file, out, "method=qlora", "train.max_steps=3"))
    assert status["state"] == "finished"
    kinds = {type(p).__name__ for p in loaded[0].parameters()}
    assert "Params4bit" in kinds  # the frozen base really is 4-bit
    folder = RunFolder(out)
    start = folder.read_events(("start",))[0]
    assert start["method"] == "qlora" and 0 < start["trainable_parameters"] < start["parameters"] / 50
    weights = load_file(str(folder.model_dir / "adapter_model.safetensors"))
    lora_b = [v for k, v in weights.items() if "lora_B" in k]
    assert lora_b and any(v.abs().sum() > 0 for v in lora_b)  # B starts at zero: non-zero means it learned
    assert all("lora_" in k for k in weights)  # the adapter alone, no base weights

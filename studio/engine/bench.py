"""``python -m studio bench``: real (non-pad) training tokens per second of three training paths.

On the same model, data and number of examples, with the same LoRA adapter and batch size:
  seed_style  every example padded to max_length 512, a plain PyTorch loop (the habit of many notebooks)
  trainer     a plain transformers Trainer with dynamic padding
  studio      the studio's own training path (run_training into a temporary run folder)
Each is timed from the start of its first step to the end of its last (model loading and tokenizing
are left out of all three alike) and counts the non-pad tokens of every step.

Model FLOPs utilisation (MFU): the model FLOPs of those tokens per second (forward 2N, backward 2N for the
activations plus 2 per trained weight; N the weights used in matmuls) over the machine's own matmul peak in the
path's precision, measured in the same run (fp32 for the two baselines; the studio's precision, bf16 on CPUs
and GPUs that have it).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "datasets"
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


def bench_records(n: int) -> list[dict]:
    """Chat records of mixed lengths: the shipped sample datasets taken in turn, as a mixed real set would be."""
    from studio.data import load_dataset

    sources = [load_dataset(str(ASSETS / name)).records
               for name in ("support_chat.jsonl", "instructions.jsonl", "pirate_style.jsonl") if (ASSETS / name).exists()]
    if not sources:
        raise SystemExit("bench: no sample datasets found in assets/datasets")
    out: list[dict] = []
    i = 0
    while len(out) < n:
        for recs in sources:
            out.append(recs[i % len(recs)])
        i += 1
    return out[:n]


def _lora(model):
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=LORA_TARGETS,
                                            task_type="CAUSAL_LM"))


def _rate(marks: list[tuple[float, int]]) -> float:
    """Tokens per second from the first (start time, 0 tokens) mark to the last (time, cumulative tokens)."""
    (t0, k0), (t1, k1) = marks[0], marks[-1]
    return (k1 - k0) / max(t1 - t0, 1e-9)


def seed_style(source: str, records: list[dict], batch: int, lr: float) -> float:
    import torch

    from studio.core import models
    from studio.core.chat_template import render_text

    tok = models.load_tokenizer(source)
    texts = [render_text(tok, r) for r in records]
    enc = tok(texts, padding="max_length", max_length=512, truncation=True, return_tensors="pt", add_special_tokens=False)
    labels = enc["input_ids"].clone()
    labels[enc["attention_mask"] == 0] = -100
    model = _lora(models.load_causal_lm(source, dtype=torch.float32))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    marks, seen = [(time.perf_counter(), 0)], 0
    for i in range(0, len(records), batch):
        sl = slice(i, i + batch)
        loss = model(input_ids=enc["input_ids"][sl], attention_mask=enc["attention_mask"][sl], labels=labels[sl]).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        seen += int(enc["attention_mask"][sl].sum())
        marks.append((time.perf_counter(), seen))
    return _rate(marks)


def plain_trainer(source: str, records: list[dict], batch: int, lr: float, workdir: str) -> float:
    import torch
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainerCallback, TrainingArguments

    from studio.core import models
    from studio.tasks.chat.encode import encode_records

    tok = models.load_tokenizer(source)
    examples, _ = encode_records(tok, records, 512)
    model = _lora(models.load_causal_lm(source, dtype=torch.float32))
    marks: list[tuple[float, int]] = []

    class Mark(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            marks.append((time.perf_counter(), 0))

        def on_step_end(self, args, state, control, **kw):
            marks.append((time.perf_counter(), state.num_input_tokens_seen))

    args = TrainingArguments(output_dir=workdir, per_device_train_batch_size=batch, num_train_epochs=1,
                             learning_rate=lr, report_to="none", disable_tqdm=True, save_strategy="no",
                             logging_strategy="no", remove_unused_columns=False, use_cpu=not torch.cuda.is_available(),
                             include_num_input_tokens_seen="non_padding")
    from transformers import PrinterCallback

    trainer = Trainer(model=model, args=args, train_dataset=examples, callbacks=[Mark()],
                      data_collator=DataCollatorForSeq2Seq(tok, padding="longest", label_pad_token_id=-100))
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    return _rate(marks)


def studio_path(source: str, records: list[dict], batch: int, lr: float, workdir: str) -> float:
    from studio.core.config import StudioConfig
    from studio.core.runfolder import RunFolder
    from studio.engine.train import run_training

    data = Path(workdir) / "bench.jsonl"
    data.write_text("".join(json.dumps({"messages": r["messages"]}) + "\n" for r in records), encoding="utf-8")
    steps = -(-len(records) // batch)
    cfg = StudioConfig().with_overrides([
        f"model.source={source}", f"data.train={data}", "data.eval_fraction=0", "data.max_length=512",
        f"train.max_steps={steps}", f"train.batch_size={batch}", f"train.learning_rate={lr}", "train.epochs=1",
        f"train.save_steps={steps + 1}", f"output_dir={Path(workdir) / 'run'}", "lora.r=16", "lora.alpha=32",
        "lora.dropout=0", "lora.target_modules=" + ",".join(LORA_TARGETS),
    ])
    run_training(cfg)
    logs = RunFolder(cfg.output_dir).read_events(("log",))
    return _rate([(0.0, 0)] + [(e["elapsed"], e["tokens_seen"]) for e in logs])


def matmul_peak(precision: str, size: int = 2048, repeats: int = 10) -> float:
    """This machine's matmul speed in FLOP/s for ``precision`` (fp32 | bf16 | fp16), measured now."""
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    size = size * 4 if device == "cuda" else size
    a = torch.randn(size, size, dtype=dtype, device=device)
    b = torch.randn(size, size, dtype=dtype, device=device)
    for _ in range(3):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    return 2 * size**3 * repeats / (time.perf_counter() - t)


def flops_per_token(source: str, trainable: int) -> float:
    """Model FLOPs of one trained token: 2N forward, 2N backward through the activations, 2 per trained weight.
    N counts the weights used in matmuls (a tied embedding counts once, as the output layer)."""
    from studio.core import models

    cfg = models.load_config(source)
    n = models.describe(source)["parameters"]
    if not getattr(cfg, "tie_word_embeddings", False):
        n -= cfg.vocab_size * cfg.hidden_size  # the input embedding is a lookup, not a matmul
    return 4.0 * n + 2.0 * trainable


def run_bench(source: str = "smollm2", n: int = 96, batch: int = 8, lr: float = 1e-3) -> dict:
    from studio.core.hardware import detect_hardware

    records = bench_records(n)
    with tempfile.TemporaryDirectory() as tmp:
        results = {
            "seed_style": seed_style(source, records, batch, lr),
            "trainer": plain_trainer(source, records, batch, lr, str(Path(tmp) / "trainer")),
            "studio": studio_path(source, records, batch, lr, tmp),
        }
        start = _start_event(Path(tmp) / "run")
    studio_precision, trainable = start.get("precision", "fp32"), start.get("trainable_parameters", 0)
    out = {k: round(v, 1) for k, v in results.items()}
    out["studio_vs_seed_style"] = round(results["studio"] / results["seed_style"], 2)
    out["studio_vs_trainer"] = round(results["studio"] / results["trainer"], 2)
    peaks = {"fp32": matmul_peak("fp32")}
    if studio_precision != "fp32":
        peaks[studio_precision] = matmul_peak(studio_precision)
    per_token = flops_per_token(source, trainable)
    out["mfu"] = {"seed_style": round(results["seed_style"] * per_token / peaks["fp32"], 4),
                  "trainer": round(results["trainer"] * per_token / peaks["fp32"], 4),
                  "studio": round(results["studio"] * per_token / peaks[studio_precision], 4)}
    out["matmul_peak_gflops"] = {k: round(v / 1e9, 1) for k, v in peaks.items()}
    out["gflop_per_token"] = round(per_token / 1e9, 3)
    out["studio_precision"] = studio_precision
    out["device"] = detect_hardware().name
    out.update({"model": source, "examples": n, "batch_size": batch, "unit": "non-pad tokens per second"})
    return out


def _start_event(run_dir: Path) -> dict:
    """The start event of the studio path's run."""
    from studio.core.runfolder import RunFolder

    starts = RunFolder(run_dir).read_events(("start",))
    return starts[-1] if starts else {}

"""Evaluate a trained run on held-out data: the base model against the tuned one.

For a chat run every held-out example is scored twice, with the base model and with the tuned one:
- teacher-forced loss (and perplexity) on the tokens training learns from, with the same mask as
  training (``studio.tokenize.encode_example``);
- a greedy reply to the example's prompt, scored against the reference answer with ROUGE-L, BLEU and
  exact match (``studio.metrics``).
The result holds both sets of numbers, the change base -> tuned, a side-by-side table of prompts with
reference, base reply and tuned reply, and the overfitting check of the run's loss curves. It is also
saved as ``evaluation.json`` in the run folder, where the model card finds it.

Held-out data: a file the user names, else the run's eval file (``data.eval``), else the same seeded
split the trainer made (``studio.train.load_splits``).

Classification runs are scored by ``studio.classify.evaluate_classifier`` (accuracy, macro F1).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from pathlib import Path
from typing import Callable

from studio.config import StudioConfig
from studio.errors import StudioError
from studio.runfolder import RunFolder

Progress = Callable[[float, str], None]
RESULT_FILE = "evaluation.json"
METRIC_KEYS = ("eval_loss", "perplexity", "rougeL", "bleu", "exact_match")
CLASSIFICATION_KEYS = ("accuracy", "macro_f1")
# Which way is better for each metric (for the change column and its arrows).
HIGHER_IS_BETTER = {"eval_loss": False, "perplexity": False, "rougeL": True, "bleu": True, "exact_match": True,
                    "accuracy": True, "macro_f1": True}


def open_run(run_dir: str | Path) -> tuple[RunFolder, StudioConfig]:
    """The run folder and its saved config, or a StudioError that says what is missing."""
    folder = RunFolder(run_dir)
    if not folder.path.is_dir():
        raise StudioError(f"run folder not found: {run_dir}")
    if not folder.config_file.exists():
        raise StudioError(f"{run_dir} is not a run folder (no config.yaml); give the output_dir of a training run")
    return folder, StudioConfig.load(folder.config_file)


def held_out_records(config: StudioConfig, data_path: str | None = None, limit: int | None = 20) -> tuple[list[dict], str, int]:
    """The held-out records to evaluate on, a description of where they came from, and how many there were."""
    if data_path:
        from studio.data import load_dataset

        if not Path(data_path).expanduser().is_file():
            raise StudioError(f"--data: file not found: {data_path}")
        path = str(Path(data_path).expanduser())
        try:
            ds = load_dataset(path, format=config.data.format, columns=config.data.columns or None)
        except StudioError:
            if config.data.format == "auto" and not config.data.columns:
                raise
            ds = load_dataset(path)  # a file laid out differently from the training data
        if config.task == "chat" and ds.format == "classification":
            raise StudioError(f"--data: {data_path} holds classification examples (text and label), but this is a chat "
                              "run; give held-out chat examples (messages, or prompt and completion)")
        records, source = list(ds.records), f"{data_path}"
    elif config.data.eval:
        from studio.data import load_dataset

        path = config.resolve_path(config.data.eval)
        if not Path(path).is_file():
            raise StudioError(f"the run's eval file is gone: {config.data.eval}; give held-out data with --data FILE")
        ds = load_dataset(path, format=config.data.format, columns=config.data.columns or None)
        records, source = list(ds.records), f"{config.data.eval} (the run's eval file)"
    else:
        from studio.train import load_splits

        if not Path(config.resolve_path(config.data.train)).is_file():
            raise StudioError(f"the run's training file is gone: {config.data.train}; give held-out data with --data FILE")
        _, records, _ = load_splits(config)
        source = (f"{Path(config.data.train).name}: the {len(records)} examples held out from training "
                  f"(eval share {config.data.eval_fraction}, seed {config.train.seed})")
    total = len(records)
    if not records:
        raise StudioError("no held-out examples to evaluate on (the run used all its data for training); "
                          "give a file of held-out examples with --data FILE")
    if limit is not None and limit > 0:
        records = records[:limit]
    return records, source, total


def seen_in_training(config: StudioConfig, records: list[dict]) -> int | None:
    """How many of ``records`` are also in the run's training data (compared as the data health checks do:
    case, spaces and punctuation ignored); None when the training data can no longer be read."""
    from studio.data.health import norm_key
    from studio.train import load_splits

    try:
        train, _, _ = load_splits(config)
    except Exception:  # noqa: BLE001 - the file moved or changed: the count is a courtesy, not a requirement
        return None
    keys = {norm_key(r) for r in train}
    return sum(1 for r in records if norm_key(r) in keys)


def split_prompt(record: dict) -> tuple[list[dict], str] | None:
    """The prompt messages and the reference answer of a chat-like record (None for plain text)."""
    from studio.tokenize import messages_of

    msgs = messages_of(record)
    if not msgs:
        return None
    last = max((i for i, m in enumerate(msgs) if m["role"] == "assistant"), default=None)
    if last is None or last == 0:
        return None
    return msgs[:last], msgs[last]["content"]


# ---- teacher-forced loss ---------------------------------------------------------------------------------
def _model_ctx(chat, tuned: bool):
    if chat.is_adapter:
        return chat.base, (contextlib.nullcontext() if tuned else chat.base.disable_adapter())
    if tuned:
        if chat.tuned is None:
            raise StudioError("this run has no tuned model to evaluate")
        return chat.tuned, contextlib.nullcontext()
    return chat.base, contextlib.nullcontext()


def teacher_forced_loss(chat, encoded: list[dict], tuned: bool) -> tuple[float | None, int]:
    """Token-weighted mean loss over the learned tokens of the encoded examples, and the token count."""
    import torch

    model, ctx = _model_ctx(chat, tuned)
    total, count = 0.0, 0
    with chat.lock, ctx, torch.no_grad():
        for ex in encoded:
            ids = torch.tensor([ex["input_ids"]], device=chat.device)
            labels = torch.tensor([ex["labels"]], device=chat.device)
            logits = model(input_ids=ids).logits[:, :-1, :].float()
            target = labels[:, 1:]
            n = int((target != -100).sum())
            if n == 0:
                continue
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1),
                                                     ignore_index=-100, reduction="sum")
            total += float(loss)
            count += n
    return (total / count if count else None), count


# ---- the evaluation --------------------------------------------------------------------------------------
def evaluate_run(run_dir: str | Path, data_path: str | None = None, limit: int | None = 20,
                 max_new_tokens: int = 128, progress: Progress | None = None, chat=None, save: bool = True) -> dict:
    """Score the base and the tuned model of a run on held-out examples; see the module docstring."""
    from studio.overfit import check_run

    started = time.time()
    folder, config = open_run(run_dir)
    if not folder.has_model():
        status = folder.read_status()
        state = status.get("state", "unknown")
        if folder.cut_off(status):
            raise StudioError(f"{run_dir} was cut off before it finished (the app or process stopped) and has no "
                              "trained model; resume it, then evaluate")
        raise StudioError(f"{run_dir} has no trained model yet (state: {state}); wait for it to finish, or stop it "
                          "to save the model so far")
    if limit is not None and limit < 0:
        raise StudioError(f"--limit: {limit} is negative; give a number of examples like 20 (0: all)")
    report = progress or (lambda fraction, message: None)
    if config.task == "classification":
        result = _evaluate_classification(run_dir, data_path, limit)
    else:
        result = _evaluate_chat(folder, config, data_path, limit, max_new_tokens, report, chat)
    result["overfitting"] = check_run(folder.path)
    result["training"] = training_summary(folder)
    result["seconds"] = round(time.time() - started, 1)
    if save:
        (folder.path / RESULT_FILE).write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    report(1.0, "done")
    return result


def _evaluate_classification(run_dir, data_path, limit) -> dict:
    try:
        from studio.classify import evaluate_classifier
    except ImportError:
        raise StudioError("evaluating classification runs is not available in this version") from None
    res = evaluate_classifier(str(run_dir), data_path, limit or None)
    out = {"run_dir": str(run_dir), "task": "classification", **res}
    if not isinstance(out.get("examples"), list):  # a count there; the table rows are its samples
        out["n_examples"] = out.pop("examples", None)
        out["examples"] = out.pop("samples", [])
    for side in ("base", "tuned"):
        scores = dict(out.get(side) or {})
        for key in METRIC_KEYS + CLASSIFICATION_KEYS:
            scores.setdefault(key, None)
        out[side] = scores
    out.setdefault("examples", [])
    out["change"] = metric_change(out["base"], out["tuned"])
    return out


def _evaluate_chat(folder: RunFolder, config: StudioConfig, data_path, limit, max_new_tokens, report, chat) -> dict:
    from studio import metrics
    from studio.infer import ChatModels, Sampling
    from studio.tokenize import encode_example

    records, source, total = held_out_records(config, data_path, limit)
    seen = seen_in_training(config, records)
    report(0.02, "loading the base and tuned models")
    if chat is None:
        chat = ChatModels(config.model.source, folder.path, config.model.trust_remote_code)
    tok = chat.tokenizer
    encoded = [encode_example(tok, r, config.data.max_length, config.data.train_on_prompt) for r in records]
    report(0.08, "teacher-forced loss")
    scores: dict[str, dict] = {}
    for side, tuned in (("base", False), ("tuned", True)):
        loss, n_tokens = teacher_forced_loss(chat, encoded, tuned)
        scores[side] = {"eval_loss": None if loss is None else round(loss, 5),
                        "perplexity": None if loss is None else round(metrics.perplexity(loss), 4)}
    pairs = [(r, split_prompt(r)) for r in records]
    pairs = [(r, p) for r, p in pairs if p is not None]
    rows, preds = [], {"base": [], "tuned": []}
    refs = [ref for _, (_, ref) in pairs]
    for i, (rec, (prompt, ref)) in enumerate(pairs):
        budget = min(max_new_tokens, 2 * len(tok(ref, add_special_tokens=False)["input_ids"]) + 16)
        sampling = Sampling(max_new_tokens=budget, temperature=0.0)
        row = {"prompt": _prompt_text(prompt), "reference": ref}
        for side, tuned in (("base", False), ("tuned", True)):
            report(0.1 + 0.88 * (2 * i + tuned) / (2 * len(pairs)), f"generating {side} reply {i + 1}/{len(pairs)}")
            reply = chat.reply(prompt, tuned=tuned, sampling=sampling).strip()
            preds[side].append(reply)
            row[side] = reply
            row[f"{side}_rougeL"] = round(metrics.rouge_l([reply], [ref]), 4)
            row[f"{side}_exact"] = metrics.normalize_answer(reply) == metrics.normalize_answer(ref)
        rows.append(row)
    for side in ("base", "tuned"):
        if pairs:
            scores[side].update(metrics.generation_metrics(preds[side], refs))
        else:  # plain-text records: nothing to prompt with, only the loss
            scores[side].update({"rougeL": None, "bleu": None, "exact_match": None})
    return {
        "run_dir": str(folder.path),
        "task": "chat",
        "data": source,
        "held_out_examples": total,
        "n_examples": len(records),
        "seen_in_training": seen,
        "generated": len(pairs),
        "tokens_scored": n_tokens,
        "short_answers": metrics.short_answers(refs),
        "base": scores["base"],
        "tuned": scores["tuned"],
        "change": metric_change(scores["base"], scores["tuned"]),
        "examples": rows,
    }


def _prompt_text(messages: list[dict]) -> str:
    users = [m["content"] for m in messages if m["role"] == "user"]
    return users[-1] if users else messages[-1]["content"]


def metric_change(base: dict, tuned: dict) -> dict:
    """tuned - base for every metric both have."""
    out = {}
    for key, b in base.items():
        t = tuned.get(key)
        if isinstance(b, (int, float)) and isinstance(t, (int, float)) and not isinstance(b, bool):
            out[key] = round(t - b, 5)
    return out


def training_summary(folder: RunFolder) -> dict:
    """What the run's own events say: steps, final train loss, last eval loss and perplexity."""
    events = folder.read_events(("start", "log", "eval", "end"))
    logs = [e for e in events if e["type"] == "log"]
    evals = [e for e in events if e["type"] == "eval" and e.get("eval_loss") is not None]
    ends = [e for e in events if e["type"] == "end"]
    starts = [e for e in events if e["type"] == "start"]
    out: dict = {"state": folder.read_status().get("state")}
    if starts:
        s = starts[-1]
        out.update({k: s.get(k) for k in ("train_examples", "eval_examples", "format", "device", "precision",
                                           "parameters", "trainable_parameters") if s.get(k) is not None})
    if logs:
        out["steps"] = logs[-1]["step"]
        out["last_train_loss"] = logs[-1]["loss"]
    if ends:
        e = ends[-1]
        out.update({k: e.get(k) for k in ("step", "train_loss", "runtime") if e.get(k) is not None})
    if evals:
        last = evals[-1]
        out["eval_loss"] = last["eval_loss"]
        out["perplexity"] = last.get("perplexity") or round(math.exp(min(last["eval_loss"], 50.0)), 4)
        best = min(evals, key=lambda e: e["eval_loss"])
        out["best_eval_loss"] = best["eval_loss"]
        out["best_eval_step"] = best["step"]
        for k, v in last.items():  # classification runs log accuracy / f1 with their evals
            if k.startswith("eval_") and k not in ("eval_loss",) and isinstance(v, (int, float)):
                out[k] = v
    return out


def load_saved(run_dir: str | Path) -> dict | None:
    """The last evaluation saved in a run folder, if any."""
    path = Path(run_dir) / RESULT_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def metrics_table(result: dict) -> list[list]:
    """Rows of metric, base, tuned, change (with whether the change is an improvement)."""
    rows = []
    keys = [k for k in METRIC_KEYS + CLASSIFICATION_KEYS if k in result.get("base", {}) or k in result.get("tuned", {})]
    for key in keys:
        b, t = result["base"].get(key), result["tuned"].get(key)
        if b is None and t is None:
            continue
        change = result.get("change", {}).get(key)
        verdict = ""
        if change is not None and change != 0:
            better = (change > 0) == HIGHER_IS_BETTER.get(key, True)
            verdict = "better" if better else "worse"
        rows.append([key, b, t, change, verdict])
    return rows

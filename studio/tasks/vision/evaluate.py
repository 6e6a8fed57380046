"""Base vs tuned on held-out conversations with images: teacher-forced loss on the answers (the training mask) and
greedy replies to each held-out question about its images, scored against the reference with ROUGE-L, BLEU and
exact match. Both models see the same images."""

from __future__ import annotations

from pathlib import Path

from studio.core.errors import StudioError


def held_out(config, data_path, limit) -> tuple[list[dict], str, int]:
    """Held-out vision records: ``data_path``, else the run's eval file, else the split training held out."""
    from studio import tasks
    from studio.tasks.vision.intake import load

    if data_path:
        if not Path(data_path).expanduser().is_file():
            raise StudioError(f"--data: file not found: {data_path}")
        records, source = load(data_path, confine=bool(config.owner)).records, str(data_path)
    else:
        _, records, _ = tasks.get(config.task).load_splits(config)
        source = (f"{config.data.eval} (the run's eval file)" if config.data.eval else
                  f"{Path(config.data.train).name}: the {len(records)} examples held out from training")
    total = len(records)
    if not records:
        raise StudioError("no held-out examples to evaluate on (the run used all its data for training); "
                          "give a file of held-out conversations with images with --data FILE")
    return (records[:limit] if limit else records), source, total


def _loss(chat, processor, records, tuned: bool, max_length: int) -> tuple[float | None, int]:
    import contextlib

    import torch

    from studio.tasks.vision.encode import IGNORE, encode_batch

    model = chat.tuned if tuned else chat.base
    ctx = chat.base.disable_adapter() if chat.is_adapter and not tuned else contextlib.nullcontext()
    total, count = 0.0, 0
    with chat.lock, ctx, torch.no_grad():
        for rec in records:
            batch = {k: v.to(chat.device) for k, v in encode_batch(processor, [rec], max_length).items()}
            labels = batch.pop("labels")
            logits = model(**batch).logits[:, :-1, :].float()
            target = labels[:, 1:]
            n = int((target != IGNORE).sum())
            if n:
                total += float(torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1),
                                                                 ignore_index=IGNORE, reduction="sum"))
                count += n
    return (total / count if count else None), count


def evaluate_vision(folder, config, data_path, limit, max_new_tokens, report, chat=None) -> dict:
    from studio.core import metrics
    from studio.tasks.chat.evaluate import side_by_side
    from studio.tasks.vision.chat import VisionChat
    from studio.tasks.vision.encode import load_images

    records, source, total = held_out(config, data_path, limit)
    report(0.02, "loading the base and tuned models")
    chat = chat or VisionChat(config.model.source, folder.path, config.model.trust_remote_code)
    scores, n_tokens = {}, 0
    report(0.08, "teacher-forced loss")
    for side, tuned in (("base", False), ("tuned", True)):
        mean, n_tokens = _loss(chat, chat.processor, records, tuned, config.data.max_length)
        scores[side] = {"eval_loss": None if mean is None else round(mean, 5),
                        "perplexity": None if mean is None else round(metrics.perplexity(mean), 4)}
    items, refs = [], []
    for rec in records:
        last = max(k for k, m in enumerate(rec["messages"]) if m["role"] == "assistant")
        prompt = rec["messages"][:last]
        ref = " ".join(p["text"] for p in rec["messages"][last]["content"] if p["type"] == "text").strip()
        shown = sum(1 for m in prompt for p in m["content"] if p["type"] == "image")
        refs.append(ref)
        row = {"prompt": " ".join(p["text"] for m in prompt if m["role"] == "user" for p in m["content"]
                                  if p["type"] == "text")[-300:], "reference": ref, "images": shown}
        items.append((row, (prompt, load_images(rec)[:shown]), ref))

    def reply(shown, tuned, sampling):
        prompt, images = shown
        return "".join(chat.stream(prompt, tuned, sampling, images=images, placed=True))

    rows, preds = side_by_side(items, reply, lambda ref: len(chat.processor.tokenizer(ref, add_special_tokens=False)["input_ids"]),
                               max_new_tokens, report)
    for side in ("base", "tuned"):
        scores[side].update(metrics.generation_metrics(preds[side], refs))
    return {"run_dir": str(folder.path), "data": source, "held_out_examples": total, "n_examples": len(records),
            "generated": len(records), "tokens_scored": n_tokens, "short_answers": metrics.short_answers(refs),
            "base": scores["base"], "tuned": scores["tuned"], "examples": rows}

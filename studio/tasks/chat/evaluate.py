"""Base vs tuned on held-out chat examples: teacher-forced loss and greedy replies scored against references.

Every held-out example is scored twice, with the base model and with the tuned one:
- teacher-forced loss (and perplexity) on the tokens training learns from, with the same mask as
  training (``studio.tasks.chat.encode.encode_example``);
- a greedy reply to the example's prompt, scored against the reference answer with ROUGE-L, BLEU and
  exact match (``studio.core.metrics``).
"""

from __future__ import annotations

import contextlib

from studio.core.config import StudioConfig
from studio.core.chat_template import messages_of
from studio.core.splits import held_out_records, seen_in_training
from studio.core.errors import StudioError
from studio.core.runfolder import RunFolder


def split_prompt(record: dict) -> tuple[list[dict], str] | None:
    """The prompt messages and the reference answer of a chat-like record (None for plain text)."""
    msgs = messages_of(record)
    if not msgs:
        return None
    last = max((i for i, m in enumerate(msgs) if m["role"] == "assistant"), default=None)
    if last is None or last == 0:
        return None
    return msgs[:last], msgs[last]["content"]


def _model_ctx(chat, tuned: bool):
    if chat.is_adapter:
        return chat.base, (contextlib.nullcontext() if tuned else chat.base.disable_adapter())
    if tuned:
        if chat.tuned is None:
            raise StudioError("this run has no tuned model to evaluate")
        return chat.tuned, contextlib.nullcontext()
    return chat.base, contextlib.nullcontext()


def teacher_forced_loss(chat, encoded: list[dict], tuned: bool, causal: bool = True) -> tuple[float | None, int]:
    """Token-weighted mean loss over the learned tokens of the encoded examples, and the token count. ``causal``:
    position t predicts token t+1 (a decoder-only model); else an encoder-decoder, whose decoder is fed the labels
    shifted right and whose position t predicts labels[t]."""
    import torch

    model, ctx = _model_ctx(chat, tuned)
    total, count = 0.0, 0
    with chat.lock, ctx, torch.no_grad():
        for ex in encoded:
            ids = torch.tensor([ex["input_ids"]], device=chat.device)
            labels = torch.tensor([ex["labels"]], device=chat.device)
            if causal:
                logits, target = model(input_ids=ids).logits[:, :-1, :].float(), labels[:, 1:]
            else:
                logits, target = model(input_ids=ids, labels=labels).logits.float(), labels
            n = int((target != -100).sum())
            if n == 0:
                continue
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1),
                                                     ignore_index=-100, reduction="sum")
            total += float(loss)
            count += n
    return (total / count if count else None), count


def refuse_format(fmt: str) -> str | None:
    """Why held-out data in format ``fmt`` cannot score a chat run (None: it can)."""
    if fmt == "classification":
        return ("holds classification examples (text and label), but this is a chat run; give held-out chat "
                "examples (messages, or prompt and completion)")
    return None


def evaluate_chat(folder: RunFolder, config: StudioConfig, data_path, limit, max_new_tokens, report, chat=None,
                  encode=None, loss=teacher_forced_loss) -> dict:
    """``encode(tokenizer, records) -> examples`` and ``loss(chat, examples, tuned)``: how the teacher-forced
    loss is taken (a causal LM's by default; the seq2seq task passes an encoder-decoder's)."""
    from studio.core import metrics
    from studio.core.generate import ChatModels
    from studio.tasks.chat.encode import encode_example

    records, source, total = held_out_records(config, data_path, limit, refuse=refuse_format)
    seen = seen_in_training(config, records)
    report(0.02, "loading the base and tuned models")
    if chat is None:
        chat = ChatModels(config.model.source, folder.path, config.model.trust_remote_code)
    tok = chat.tokenizer
    if encode is None:
        encoded = [encode_example(tok, r, config.data.max_length, config.data.train_on_prompt) for r in records]
    else:
        encoded = encode(tok, records)
    report(0.08, "teacher-forced loss")
    scores: dict[str, dict] = {}
    n_tokens = 0
    for side, tuned in (("base", False), ("tuned", True)):
        mean, n_tokens = loss(chat, encoded, tuned)
        scores[side] = {"eval_loss": None if mean is None else round(mean, 5),
                        "perplexity": None if mean is None else round(metrics.perplexity(mean), 4)}
    pairs = [(r, split_prompt(r)) for r in records]
    pairs = [(r, p) for r, p in pairs if p is not None]
    refs = [ref for _, (_, ref) in pairs]
    items = [({"prompt": _prompt_text(prompt), "reference": ref}, prompt, ref) for _, (prompt, ref) in pairs]
    rows, preds = side_by_side(items, lambda prompt, tuned, sampling: chat.reply(prompt, tuned=tuned, sampling=sampling),
                               lambda ref: len(tok(ref, add_special_tokens=False)["input_ids"]), max_new_tokens, report)
    for side in ("base", "tuned"):
        if pairs:
            scores[side].update(metrics.generation_metrics(preds[side], refs))
        else:  # plain-text records: nothing to prompt with, only the loss
            scores[side].update({"rougeL": None, "bleu": None, "exact_match": None})
    return {
        "run_dir": str(folder.path),
        "data": source,
        "held_out_examples": total,
        "n_examples": len(records),
        "seen_in_training": seen,
        "generated": len(pairs),
        "tokens_scored": n_tokens,
        "short_answers": metrics.short_answers(refs),
        "base": scores["base"],
        "tuned": scores["tuned"],
        "examples": rows,
    }


def side_by_side(items, reply, count_tokens, max_new_tokens: int, report) -> tuple[list[dict], dict[str, list[str]]]:
    """Greedy replies of the base and the tuned model to each held-out prompt, scored against its reference.
    ``items``: (row, prompt, reference), the row already holding what the table shows of the prompt; ``reply(prompt,
    tuned, sampling)`` answers; a reply may run to twice the reference's tokens plus 16 (at most ``max_new_tokens``).
    Returns the rows (each side's reply, ROUGE-L and exact match added) and each side's replies."""
    from studio.core import metrics
    from studio.core.generate import Sampling

    rows, preds = [], {"base": [], "tuned": []}
    for i, (row, prompt, ref) in enumerate(items):
        sampling = Sampling(max_new_tokens=min(max_new_tokens, 2 * count_tokens(ref) + 16), temperature=0.0)
        for side, tuned in (("base", False), ("tuned", True)):
            report(0.1 + 0.88 * (2 * i + tuned) / (2 * len(items)), f"generating {side} reply {i + 1}/{len(items)}")
            text = reply(prompt, tuned, sampling).strip()
            preds[side].append(text)
            row[side] = text
            row[f"{side}_rougeL"] = round(metrics.rouge_l([text], [ref]), 4)
            row[f"{side}_exact"] = metrics.normalize_answer(text) == metrics.normalize_answer(ref)
        rows.append(row)
    return rows, preds


def _prompt_text(messages: list[dict]) -> str:
    users = [m["content"] for m in messages if m["role"] == "user"]
    return users[-1] if users else messages[-1]["content"]

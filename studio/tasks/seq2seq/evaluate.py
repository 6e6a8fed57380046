"""Base vs tuned on held-out examples, as the chat task does it (``studio.tasks.chat.evaluate``): the teacher-forced
loss of each target given its source, and greedy replies to each prompt scored against the reference."""

from __future__ import annotations

from studio.tasks.chat.evaluate import _model_ctx, evaluate_chat
from studio.tasks.seq2seq.encode import encode_records


def teacher_forced_loss(chat, encoded: list[dict], tuned: bool) -> tuple[float | None, int]:
    """Token-weighted mean loss over the target tokens of the encoded examples, and the token count."""
    import torch

    model, ctx = _model_ctx(chat, tuned)
    total, count = 0.0, 0
    with chat.lock, ctx, torch.no_grad():
        for ex in encoded:
            ids = torch.tensor([ex["input_ids"]], device=chat.device)
            labels = torch.tensor([ex["labels"]], device=chat.device)
            logits = model(input_ids=ids, labels=labels).logits.float()  # position t predicts labels[t]
            total += float(torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1),
                                                             ignore_index=-100, reduction="sum"))
            count += int((labels != -100).sum())
    return (total / count if count else None), count


def evaluate_seq2seq(folder, config, data_path, limit, max_new_tokens, report, chat=None) -> dict:
    def encode(tok, records):
        return encode_records(tok, records, config.data.max_length)[0]

    return evaluate_chat(folder, config, data_path, limit, max_new_tokens, report, chat, encode=encode,
                         loss=teacher_forced_loss)

"""Base vs tuned on held-out examples, as the chat task does it (``studio.tasks.chat.evaluate``): the teacher-forced
loss of each target given its source, and greedy replies to each prompt scored against the reference."""

from __future__ import annotations

import functools

from studio.tasks.chat.evaluate import evaluate_chat, teacher_forced_loss
from studio.tasks.seq2seq.encode import encode_records


def evaluate_seq2seq(folder, config, data_path, limit, max_new_tokens, report, chat=None) -> dict:
    def encode(tok, records):
        return encode_records(tok, records, config.data.max_length)[0]

    return evaluate_chat(folder, config, data_path, limit, max_new_tokens, report, chat, encode=encode,
                         loss=functools.partial(teacher_forced_loss, causal=False))

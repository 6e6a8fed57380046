"""Token ids and the loss mask of chat-like and plain-text records, exactly as training sees them.

Only the assistant turns (and their end-of-turn token) are learned from unless ``train_on_prompt`` is set.
Plain text (``{"text": ...}``) is learned from in full. Labels are -100 where nothing is learned.
"""

from __future__ import annotations

from studio.core.chat_template import messages_of, trained_spans

IGNORE = -100


def encode_example(tokenizer, record: dict, max_length: int, train_on_prompt: bool = False) -> dict:
    """Token ids and labels of one record, cut to ``max_length`` tokens."""
    msgs = messages_of(record)
    if msgs is None:
        enc = tokenizer(record.get("text", "") + (tokenizer.eos_token or ""), add_special_tokens=True,
                        truncation=True, max_length=max_length)
        ids = list(enc["input_ids"])
        return {"input_ids": ids, "labels": list(ids)}
    text, spans = trained_spans(tokenizer, msgs, record.get("tools"))
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=True, max_length=max_length)
    ids = list(enc["input_ids"])
    if train_on_prompt:
        return {"input_ids": ids, "labels": list(ids)}
    labels = [IGNORE] * len(ids)
    si = 0
    for t, (a, b) in enumerate(enc["offset_mapping"]):
        while si < len(spans) and spans[si][1] <= a:
            si += 1
        if si < len(spans) and b > spans[si][0] and a < spans[si][1]:
            labels[t] = ids[t]
    return {"input_ids": ids, "labels": labels}


def encode_records(tokenizer, records: list[dict], max_length: int, train_on_prompt: bool = False) -> tuple[list[dict], int]:
    """Encode many records; returns the usable examples and how many had nothing left to learn from."""
    out, dropped = [], 0
    for rec in records:
        ex = encode_example(tokenizer, rec, max_length, train_on_prompt)
        if all(label == IGNORE for label in ex["labels"]):
            dropped += 1
            continue
        ex["attention_mask"] = [1] * len(ex["input_ids"])
        out.append(ex)
    return out, dropped


def trained_pieces(tokenizer, record: dict, max_length: int, train_on_prompt: bool = False) -> list[tuple[str, bool]]:
    """The example as training encodes it, in pieces: (text, True where the model learns from it).

    Consecutive tokens with the same role are decoded together; anything beyond ``max_length`` tokens
    is not shown because training never sees it.
    """
    ex = encode_example(tokenizer, record, max_length, train_on_prompt=train_on_prompt)
    ids, labels = ex["input_ids"], ex["labels"]
    pieces: list[tuple[str, bool]] = []
    start = 0
    for t in range(1, len(ids) + 1):
        if t == len(ids) or (labels[t] != IGNORE) != (labels[start] != IGNORE):
            text = tokenizer.decode(ids[start:t], skip_special_tokens=False, clean_up_tokenization_spaces=False)
            pieces.append((text, labels[start] != IGNORE))
            start = t
    return pieces

"""Source and target token ids of instruction, chat and prompt/completion records, exactly as training sees them.

Every assistant turn that answers something is one example: the conversation before it, as a source text
(``studio.core.source_text``), and the answer as the target, ending with the end-of-sequence token. The
encoder reads the source; the decoder learns the whole target (``labels``); nothing of the source is
predicted, so ``data.train_on_prompt`` changes nothing here.
"""

from __future__ import annotations

from studio.core.chat_template import messages_of
from studio.core.source_text import source_target_pairs


def encode_pair(tokenizer, source: str, target: str, max_length: int) -> dict:
    """Token ids of one source and its target, each cut to ``max_length`` tokens; the target ends with EOS."""
    ids = list(tokenizer(source, truncation=True, max_length=max_length)["input_ids"])
    labels = list(tokenizer(text_target=target, truncation=True, max_length=max_length)["input_ids"])
    eos = tokenizer.eos_token_id
    if eos is not None and (not labels or labels[-1] != eos):  # tokenizers that add no EOS (not T5's own)
        labels = labels[: max_length - 1] + [eos]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}


def encode_record(tokenizer, record: dict, max_length: int) -> list[dict]:
    """The examples of one record (one per answered assistant turn); none for plain text."""
    msgs = messages_of(record)
    if not msgs:
        return []
    return [encode_pair(tokenizer, s, t, max_length) for s, t in source_target_pairs(msgs)]


def encode_records(tokenizer, records: list[dict], max_length: int) -> tuple[list[dict], int]:
    """Encode many records; returns the examples and how many records had no answer to learn."""
    out, dropped = [], 0
    for rec in records:
        examples = encode_record(tokenizer, rec, max_length)
        dropped += not examples
        out += examples
    return out, dropped


def trained_pieces(tokenizer, record: dict, max_length: int, train_on_prompt: bool = False) -> list[tuple[str, bool]]:
    """Each example as training encodes it: the source the encoder reads (not learned) and the target (learned)."""
    pieces: list[tuple[str, bool]] = []
    for ex in encode_record(tokenizer, record, max_length):
        if pieces:
            pieces.append(("\n\n", False))
        pieces.append((tokenizer.decode(ex["input_ids"], skip_special_tokens=False) + "\n⟶ ", False))
        pieces.append((tokenizer.decode(ex["labels"], skip_special_tokens=False), True))
    return pieces

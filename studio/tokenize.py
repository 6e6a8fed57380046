"""Turn normalised records into token ids and labels, exactly as training sees them.

Chat-like records (``{"messages": [...]}``) are rendered with the tokenizer's own chat template; only
the assistant turns (and their end-of-turn token) are learned from unless ``train_on_prompt`` is set.
Plain text (``{"text": ...}``) is learned from in full. Labels are -100 where nothing is learned.
"""

from __future__ import annotations

IGNORE = -100

# Used only for tokenizers that ship no chat template (base models); saved with the run's tokenizer so
# that chatting with the tuned model uses the same format.
FALLBACK_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] + '\n\n' }}"
    "{% elif m['role'] == 'user' %}{{ '### Question:\n' + m['content'] + '\n\n### Answer:\n' }}"
    "{% else %}{{ m['content'] + eos_token + '\n\n' }}{% endif %}"
    "{% endfor %}"
)


def ensure_chat_template(tokenizer) -> bool:
    """Give a template-less tokenizer the simple fallback; return True when the model had its own."""
    if getattr(tokenizer, "chat_template", None):
        return True
    tokenizer.chat_template = FALLBACK_TEMPLATE
    return False


def messages_of(record: dict) -> list[dict] | None:
    """The conversation of a chat-like record; preference records train on the chosen answer."""
    if "messages" not in record:
        return None
    msgs = [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
    if "chosen" in record:
        msgs.append({"role": "assistant", "content": record["chosen"]})
    return msgs


def _render(tokenizer, messages, add_generation_prompt=False) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def render_text(tokenizer, record: dict) -> str:
    """The whole text of a record as training sees it (for previews and length checks)."""
    msgs = messages_of(record)
    if msgs is None:
        return record.get("text", "") + (tokenizer.eos_token or "")
    ensure_chat_template(tokenizer)
    return _render(tokenizer, msgs)


def render_prompt(tokenizer, messages: list[dict]) -> str:
    """The prompt text that asks the model for its next assistant turn."""
    ensure_chat_template(tokenizer)
    return _render(tokenizer, messages, add_generation_prompt=True)


def trained_spans(tokenizer, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of the assistant turns in it."""
    ensure_chat_template(tokenizer)
    full = _render(tokenizer, messages)
    spans = []
    cursor = 0
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = _render(tokenizer, messages[:i], add_generation_prompt=True) if i else ""
        upto = _render(tokenizer, messages[: i + 1])
        if full.startswith(upto) and upto.startswith(before):
            start, end = len(before), len(upto)
        else:  # templates that rewrite earlier turns: find the answer text itself
            start = full.find(m["content"], cursor)
            if start < 0:
                continue
            end = start + len(m["content"])
            eos = tokenizer.eos_token or ""
            if eos and full.startswith(eos, end):
                end += len(eos)
        spans.append((start, end))
        cursor = end
    return full, spans


def encode_example(tokenizer, record: dict, max_length: int, train_on_prompt: bool = False) -> dict:
    """Token ids and labels of one record, cut to ``max_length`` tokens."""
    msgs = messages_of(record)
    if msgs is None:
        enc = tokenizer(record.get("text", "") + (tokenizer.eos_token or ""), add_special_tokens=True,
                        truncation=True, max_length=max_length)
        ids = list(enc["input_ids"])
        return {"input_ids": ids, "labels": list(ids)}
    text, spans = trained_spans(tokenizer, msgs)
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

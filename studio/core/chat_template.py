"""Records rendered with a tokenizer's chat template, as training, previews, length checks and chat see them.

Chat-like records (``{"messages": [...]}``) are rendered with the tokenizer's own chat template (a simple
fallback for tokenizers without one); ``trained_spans`` says where the assistant turns are in the text.
Which tokens are learned from (the loss mask) is the chat task's business: ``studio.tasks.chat.encode``.
"""

from __future__ import annotations

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

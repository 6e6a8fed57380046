"""Records rendered with a tokenizer's chat template, as training, previews, length checks and chat see them.

Chat-like records (``{"messages": [...]}``) are rendered with the tokenizer's own chat template (a simple
fallback for tokenizers without one); ``trained_spans`` says where the assistant turns are in the text.
Which tokens are learned from (the loss mask) is the chat task's business: ``studio.tasks.chat.encode``.
"""

from __future__ import annotations

import json

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
    msgs = [{k: m[k] for k in ("role", "content", "tool_calls") if k in m} for m in record["messages"]]
    if "chosen" in record:
        msgs.append({"role": "assistant", "content": record["chosen"]})
    return msgs


def uses_tools(record: dict) -> bool:
    """Whether a record has tool calls, tool results or a list of tools."""
    return bool(record.get("tools")) or any(m.get("tool_calls") or m["role"] == "tool" for m in record.get("messages") or ())


_PROBE = ("zqprobe_tool", "zqprobe_call", "zqprobe_result")


def supports_tools(tokenizer) -> bool:
    """Whether the tokenizer's chat template renders tools, tool calls and tool results (tried once, remembered)."""
    template = getattr(tokenizer, "chat_template", None)
    cached = getattr(tokenizer, "_studio_tools", None)
    if cached is not None and cached[0] == template:
        return cached[1]
    ok = False
    if template:
        tools = [{"type": "function", "function": {"name": _PROBE[0], "description": "d",
                                                   "parameters": {"type": "object", "properties": {}}}}]
        msgs = [{"role": "user", "content": "hi"},
                {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": _PROBE[1], "arguments": {}}}]},
                {"role": "tool", "content": _PROBE[2]}, {"role": "assistant", "content": "ok"}]
        try:
            text = tokenizer.apply_chat_template(msgs, tools=tools, tokenize=False)
            ok = all(p in text for p in _PROBE)
        except Exception:  # noqa: BLE001 - a template that raises on tools does not support them
            ok = False
    try:
        tokenizer._studio_tools = (template, ok)
    except AttributeError:
        pass
    return ok


def tools_as_text(messages: list[dict], tools: list[dict] | None) -> list[dict]:
    """A tool-calling conversation for a template without tool support: the tools listed in the system turn,
    each call written as JSON in the assistant's turn (still learned from), tool results as user turns."""
    out = []
    for m in messages:
        if m["role"] == "tool":
            out.append({"role": "user", "content": f"Tool result:\n{m['content']}"})
        elif m.get("tool_calls"):
            calls = "\n".join(json.dumps({"name": c["function"]["name"], "arguments": c["function"].get("arguments", {})},
                                         ensure_ascii=False) for c in m["tool_calls"])
            out.append({"role": "assistant", "content": f"{m['content']}\n{calls}" if m["content"].strip() else calls})
        else:
            out.append({"role": m["role"], "content": m["content"]})
    if tools:
        listed = "\n".join(json.dumps(t.get("function", t), ensure_ascii=False) for t in tools)
        note = ("You can call these tools; to call one, answer with a JSON object "
                f'{{"name": ..., "arguments": {{...}}}}:\n{listed}')
        if out and out[0]["role"] == "system":
            out[0] = {"role": "system", "content": f"{out[0]['content']}\n\n{note}"}
        else:
            out.insert(0, {"role": "system", "content": note})
    return out


def _prepare(tokenizer, messages: list[dict], tools: list[dict] | None) -> tuple[list[dict], list[dict] | None]:
    """Messages and tools as the template gets them: as they are when it supports tools, else as text."""
    if not tools and not any(m.get("tool_calls") or m["role"] == "tool" for m in messages):
        return messages, None
    if supports_tools(tokenizer):
        return messages, tools
    return tools_as_text(messages, tools), None


def _render(tokenizer, messages, add_generation_prompt=False, tools=None) -> str:
    if tools:
        return tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=add_generation_prompt)
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def render_text(tokenizer, record: dict) -> str:
    """The whole text of a record as training sees it (for previews and length checks)."""
    msgs = messages_of(record)
    if msgs is None:
        return record.get("text", "") + (tokenizer.eos_token or "")
    ensure_chat_template(tokenizer)
    msgs, tools = _prepare(tokenizer, msgs, record.get("tools"))
    return _render(tokenizer, msgs, tools=tools)


def render_prompt(tokenizer, messages: list[dict], tools: list[dict] | None = None) -> str:
    """The prompt text that asks the model for its next assistant turn (tool turns as training rendered them)."""
    ensure_chat_template(tokenizer)
    messages, tools = _prepare(tokenizer, messages, tools)
    return _render(tokenizer, messages, add_generation_prompt=True, tools=tools)


def trained_spans(tokenizer, messages: list[dict], tools: list[dict] | None = None) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of the assistant turns in it (their tool calls included)."""
    ensure_chat_template(tokenizer)
    messages, tools = _prepare(tokenizer, messages, tools)
    full = _render(tokenizer, messages, tools=tools)
    spans = []
    cursor = 0
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = _render(tokenizer, messages[:i], add_generation_prompt=True, tools=tools) if i else ""
        upto = _render(tokenizer, messages[: i + 1], tools=tools)
        if full.startswith(upto) and upto.startswith(before):
            start, end = len(before), len(upto)
        else:  # templates that rewrite earlier turns: find the answer text itself
            start = full.find(m["content"], cursor) if m["content"] else -1
            if start < 0:
                continue
            end = start + len(m["content"])
            eos = tokenizer.eos_token or ""
            if eos and full.startswith(eos, end):
                end += len(eos)
        spans.append((start, end))
        cursor = end
    return full, spans

"""Reading one field's value from a raw row: text, labels, message content and lists of turns."""

from __future__ import annotations

import json

from studio.data.formats.fields import ROLE_NAMES, RowError


def _kind(value) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def as_text(value, name: str, required: bool = True) -> str | None:
    """A text field's value: strings as they are, numbers as written; None when absent and optional."""
    if isinstance(value, str):
        return value
    if value is None:
        if required:
            raise RowError(f"'{name}' is missing")
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number_text(value)
    raise RowError(f"'{name}' is {_kind(value)}, expected text")


def _number_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_label(value, name: str) -> str:
    """Labels are kept as strings: 1, 1.0 and "1" are the same label."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return _number_text(value)
    raise RowError(f"'{name}' is {_kind(value)}, expected a label")


def content_text(content, where: str) -> str:
    """Message content: a string, or OpenAI-style parts ``[{"type": "text", "text": ...}]`` joined."""
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str) and part.get("type", "text") == "text":
                texts.append(part["text"])
            elif isinstance(part, dict):
                raise RowError(f"{where} has a '{part.get('type', '?')}' part; only text is supported")
            else:
                raise RowError(f"{where} has content parts that are not text")
        return "\n".join(texts)
    if isinstance(content, (int, float)) and not isinstance(content, bool):
        return _number_text(content)
    raise RowError(f"{where} content is {_kind(content)}, expected text")


def _as_list(value, name: str) -> list:
    if isinstance(value, str) and value.lstrip().startswith("["):  # a conversation stored as JSON text (CSV)
        try:
            value = json.loads(value)
        except ValueError:
            raise RowError(f"'{name}' holds text that is not a valid JSON list") from None
    if value is None:
        raise RowError(f"'{name}' is missing")
    if hasattr(value, "tolist") and not isinstance(value, list):  # numpy arrays from Parquet readers
        value = value.tolist()
    if not isinstance(value, list):
        raise RowError(f"'{name}' is {_kind(value)}, expected a list of messages")
    return value


def message_list(value, name: str) -> list[dict]:
    """Messages in OpenAI (role/content) or ShareGPT (from/value) style, as role/content dicts."""
    out = []
    for i, m in enumerate(_as_list(value, name), 1):
        if not isinstance(m, dict):
            raise RowError(f"message {i} in '{name}' is {_kind(m)}, expected an object")
        if "role" in m or "content" in m:
            raw_role, content = m.get("role"), m.get("content")
        elif "from" in m or "value" in m:
            raw_role, content = m.get("from"), m.get("value")
        else:
            raise RowError(f"message {i} in '{name}' has neither role/content nor from/value")
        role = ROLE_NAMES.get(str(raw_role).strip().lower()) if raw_role is not None else None
        if role is None:
            raise RowError(f"message {i} has role '{raw_role}'; only system, user and assistant turns are supported")
        if m.get("tool_calls") or m.get("function_call"):
            raise RowError(f"message {i} is a tool call; tool-calling conversations are not supported")
        out.append({"role": role, "content": content_text(content, f"message {i}")})
    return out


def _with_system(messages: list[dict], system) -> list[dict]:
    system = as_text(system, "system", required=False)
    if system and not (messages and messages[0]["role"] == "system"):
        return [{"role": "system", "content": system}] + messages
    return messages


def _answer(value, name: str) -> str | None:
    """A preference answer: text, a {from, value} / {role, content} turn, or a list of turns."""
    if isinstance(value, dict):
        return message_list([value], name)[-1]["content"]
    if isinstance(value, list):
        msgs = message_list(value, name)
        answers = [m["content"] for m in msgs if m["role"] == "assistant"]
        if not answers:
            raise RowError(f"'{name}' has no assistant turn")
        return answers[-1]
    return as_text(value, name)

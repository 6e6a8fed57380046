"""Reading one field's value from a raw row: text, labels, message content and lists of turns."""

from __future__ import annotations

import json

from studio.data.formats.fields import CALL_ROLES, ROLE_NAMES, RowError


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


_TEXT_KEYS = ("text", "value", "content")
_MEDIA_KINDS = {"image": "image", "image_url": "image", "input_image": "image", "audio": "audio", "input_audio": "audio",
                "audio_url": "audio", "video": "video", "video_url": "video", "file": "file", "input_file": "file"}


def content_text(content, where: str, skipped: dict | None = None) -> str:
    """Message content: a string, or a list of parts (``[{"type": "text", "text": ...}]``, the text under
    ``text``, ``value`` or ``content``) joined. Image, audio, video and file parts are left out and
    counted in ``skipped`` (kind -> count) when it is given; other parts make the record unusable."""
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, dict):  # a single part
        content = [content]
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
                continue
            if not isinstance(part, dict):
                raise RowError(f"{where} has content parts that are not text")
            kind = str(part.get("type") or "text").strip().lower()
            if kind in _MEDIA_KINDS:
                if skipped is not None:
                    skipped[_MEDIA_KINDS[kind]] = skipped.get(_MEDIA_KINDS[kind], 0) + 1
                continue
            text = next((part[k] for k in _TEXT_KEYS if isinstance(part.get(k), str)), None)
            if kind != "text" or text is None:
                raise RowError(f"{where} has a '{kind}' part; the studio reads text parts (the text under 'text', "
                               "'value' or 'content') and leaves out images, audio and video")
            texts.append(text)
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


def message_list(value, name: str, skipped: dict | None = None) -> list[dict]:
    """Messages in OpenAI (role/content) or ShareGPT (from/value) style, as role/content dicts.

    Tool calling is kept: an assistant turn that calls tools gets ``tool_calls`` (``[{"type": "function",
    "function": {"name": ..., "arguments": {...}}}]``), and tool results are turns with the role ``tool``.
    """
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
        key = str(raw_role).strip().lower() if raw_role is not None else ""
        role = ROLE_NAMES.get(key)
        if role is None:
            raise RowError(f"message {i} has role '{raw_role}'; the roles read are system, user, assistant and tool "
                           "(ShareGPT: human, gpt, function_call, observation)")
        calls = m.get("tool_calls") or m.get("function_call")
        if key in CALL_ROLES:  # ShareGPT: the value is the call, as JSON
            calls, content = _json_value(content, f"message {i}"), None
        msg = {"role": role, "content": content_text(content, f"message {i}", skipped)}
        if calls:
            if role != "assistant":
                raise RowError(f"message {i} is a tool call from the '{raw_role}' role; only the assistant calls tools")
            msg["tool_calls"] = tool_calls(calls, f"message {i}")
        out.append(msg)
    return out


def _json_value(value, where: str):
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise RowError(f"{where} is a tool call that is not valid JSON") from None
    return value


def tool_calls(calls, where: str) -> list[dict]:
    """Tool calls in OpenAI style (``{"function": {"name", "arguments"}}``) or plain (``{"name", "arguments"}``),
    one or a list, as ``[{"type": "function", "function": {"name": ..., "arguments": {...}}}]``."""
    calls = _json_value(calls, where)
    out = []
    for call in calls if isinstance(calls, list) else [calls]:
        call = _json_value(call, where)
        if not isinstance(call, dict):
            raise RowError(f"{where} has a tool call that is {_kind(call)}, expected an object with a name")
        fn = call.get("function") if isinstance(call.get("function"), dict) else call
        name = fn.get("name")
        if not isinstance(name, str) or not name.strip():
            raise RowError(f"{where} has a tool call without a function name")
        args = fn.get("arguments", fn.get("parameters", {}))
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except ValueError:
                pass  # arguments as plain text: kept as they are
        item = {"type": "function", "function": {"name": name, "arguments": args}}
        if isinstance(call.get("id"), str):
            item["id"] = call["id"]
        out.append(item)
    return out


def as_tools(value, name: str) -> list[dict] | None:
    """The tools a conversation may call (JSON schemas), from a list or a JSON string; None when absent."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    value = _json_value(value, f"'{name}'")
    if hasattr(value, "tolist") and not isinstance(value, list):
        value = value.tolist()
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise RowError(f"'{name}' is {_kind(value)}, expected a list of tool descriptions (JSON schemas)")
    # plain function schemas ({"name", "description", "parameters"}) in the OpenAI form chat templates expect
    return [t if "function" in t else {"type": "function", "function": t} for t in value] or None


_TRUE = {"true", "1", "yes", "y", "good", "up", "thumbs_up", "thumbsup", "👍", "positive", "accept", "accepted"}
_FALSE = {"false", "0", "no", "n", "bad", "down", "thumbs_down", "thumbsdown", "👎", "negative", "reject", "rejected"}


def as_verdict(value, name: str) -> bool:
    """A feedback verdict: true/false, 1/0, yes/no, up/down, 👍/👎."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise RowError(f"'{name}' is {value!r}, expected a true/false verdict")


def is_verdict(value) -> bool:
    try:
        as_verdict(value, "")
        return True
    except RowError:
        return False


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

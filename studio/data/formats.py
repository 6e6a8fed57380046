"""What the records in a file hold, and how each kind becomes the studio's normalised records.

Normalised records (what training consumes):

- chat, sharegpt, alpaca, prompt_completion -> ``{"messages": [{"role": ..., "content": ...}, ...]}``
- text -> ``{"text": ...}``
- classification -> ``{"text": ..., "label": ...}`` (labels are always strings)
- preference -> ``{"messages": [prompt turns], "chosen": ..., "rejected": ...}``

A format is found from the column names of the first records (case and surrounding spaces do not
matter), and, when the names say nothing (a CSV without a header, unusual names), from the values:
one text column is plain text; a long text column next to a short column with few distinct values
is text classification; two long text columns are prompt and completion.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from studio.errors import StudioError

FORMATS = ("chat", "sharegpt", "alpaca", "prompt_completion", "text", "classification", "preference")
CHAT_LIKE = ("chat", "sharegpt", "alpaca", "prompt_completion")

# For each format: the fields it needs, and optional ones.
FIELDS = {
    "chat": (("messages",), ("system",)),
    "sharegpt": (("conversations",), ("system",)),
    "alpaca": (("instruction",), ("input", "output", "system")),
    "prompt_completion": (("prompt",), ("completion", "system")),
    "text": (("text",), ()),
    "classification": (("text", "label"), ()),
    "preference": (("chosen", "rejected"), ("prompt", "system")),
}

# Column names recognised for each field, best first.
ALIASES = {
    "messages": ("messages", "conversation", "conversations", "dialog", "dialogue", "chat"),
    "conversations": ("conversations", "conversation", "messages", "dialog", "dialogue"),
    "system": ("system", "system_prompt", "system_message"),
    "instruction": ("instruction", "instructions"),
    "input": ("input", "context"),
    "output": ("output", "response", "answer"),
    "prompt": ("prompt", "question", "query", "input", "messages", "conversations", "conversation"),
    "completion": ("completion", "response", "answer", "output", "reply"),
    "text": ("text", "sentence", "review", "content", "document", "body", "comment", "tweet", "utterance",
             "passage", "message"),
    "label": ("label", "labels", "sentiment", "class", "category", "target", "intent", "tag"),
    "chosen": ("chosen",),
    "rejected": ("rejected",),
}

ROLE_NAMES = {
    "system": "system",
    "user": "user", "human": "user",
    "assistant": "assistant", "gpt": "assistant", "bot": "assistant", "model": "assistant", "chatgpt": "assistant",
}


class RowError(ValueError):
    """One record that cannot be used; the message says why (it is shown next to its line)."""


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


# ----------------------------------------------------------------------------- normalisers

def normaliser(fmt: str, cols: dict[str, str]) -> Callable[[dict], dict]:
    """A function from one raw row (a dict) to its normalised record; raises RowError."""
    get = cols.get

    if fmt == "chat":
        c_msgs, c_sys = cols["messages"], get("system")

        def norm(row):
            msgs = message_list(row.get(c_msgs), c_msgs)
            if c_sys:
                msgs = _with_system(msgs, row.get(c_sys))
            return {"messages": msgs}

    elif fmt == "sharegpt":
        c_conv, c_sys = cols["conversations"], get("system")

        def norm(row):
            msgs = message_list(row.get(c_conv), c_conv)
            if c_sys:
                msgs = _with_system(msgs, row.get(c_sys))
            return {"messages": msgs}

    elif fmt == "alpaca":
        c_ins, c_in, c_out, c_sys = cols["instruction"], get("input"), get("output"), get("system")

        def norm(row):
            instruction = as_text(row.get(c_ins), c_ins, required=False) or ""
            extra = as_text(row.get(c_in), c_in, required=False) if c_in else None
            user = f"{instruction}\n\n{extra}" if extra and extra.strip() else instruction
            msgs = [{"role": "user", "content": user}]
            output = as_text(row.get(c_out), c_out, required=False) if c_out else None
            if output is not None:
                msgs.append({"role": "assistant", "content": output})
            if c_sys:
                msgs = _with_system(msgs, row.get(c_sys))
            return {"messages": msgs}

    elif fmt == "prompt_completion":
        c_p, c_c, c_sys = cols["prompt"], get("completion"), get("system")

        def norm(row):
            prompt = row.get(c_p)
            if isinstance(prompt, list):  # conversational prompt/completion
                msgs = message_list(prompt, c_p)
            else:
                msgs = [{"role": "user", "content": as_text(prompt, c_p, required=False) or ""}]
            completion = row.get(c_c) if c_c else None
            if isinstance(completion, list):
                msgs += message_list(completion, c_c)
            elif isinstance(completion, dict):
                msgs += message_list([completion], c_c)
            else:
                text = as_text(completion, c_c, required=False) if c_c else None
                if text is not None:
                    msgs.append({"role": "assistant", "content": text})
            if c_sys:
                msgs = _with_system(msgs, row.get(c_sys))
            return {"messages": msgs}

    elif fmt == "text":
        c_t = cols["text"]

        def norm(row):
            return {"text": as_text(row.get(c_t), c_t, required=False) or ""}

    elif fmt == "classification":
        c_t, c_l = cols["text"], cols["label"]

        def norm(row):
            return {"text": as_text(row.get(c_t), c_t, required=False) or "", "label": as_label(row.get(c_l), c_l)}

    elif fmt == "preference":
        c_p, c_ch, c_rj, c_sys = get("prompt"), cols["chosen"], cols["rejected"], get("system")

        def norm(row):
            prompt = row.get(c_p) if c_p else None
            chosen_raw, rejected_raw = row.get(c_ch), row.get(c_rj)
            if isinstance(prompt, (list, dict)):
                msgs = message_list(prompt if isinstance(prompt, list) else [prompt], c_p)
            elif prompt is None and isinstance(chosen_raw, list) and isinstance(rejected_raw, list):
                msgs = _shared_prefix(message_list(chosen_raw, c_ch), message_list(rejected_raw, c_rj))
            else:
                text = as_text(prompt, c_p or "prompt", required=False)
                msgs = [{"role": "user", "content": text}] if text is not None else []
            if c_sys:
                msgs = _with_system(msgs, row.get(c_sys))
            chosen, rejected = _answer(chosen_raw, c_ch), _answer(rejected_raw, c_rj)
            return {"messages": msgs, "chosen": chosen, "rejected": rejected}

    else:
        raise StudioError(f"unknown format '{fmt}'; use auto or one of: {', '.join(FORMATS)}")
    return norm


def _shared_prefix(a: list[dict], b: list[dict]) -> list[dict]:
    """The prompt turns of two full conversations that differ only in their last answer."""
    n = 0
    while n < min(len(a), len(b)) - 1 and a[n] == b[n]:
        n += 1
    return a[:n]


# ----------------------------------------------------------------------------- detection

def _lookup(keys) -> dict[str, str]:
    """Lower-cased, stripped column name -> the name as it is in the file (first wins)."""
    out: dict[str, str] = {}
    for k in keys:
        out.setdefault(str(k).strip().lower(), k)
    return out


def _find(field: str, names: dict[str, str], taken: set) -> str | None:
    for alias in ALIASES.get(field, (field,)):
        col = names.get(alias)
        if col is not None and col not in taken:
            return col
    return None


def _message_style(rows: list[dict], col: str) -> str | None:
    """'chat' for role/content turns, 'sharegpt' for from/value turns, None if the column holds no turns."""
    for row in rows:
        value = row.get(col)
        if isinstance(value, str) and value.lstrip().startswith("["):
            try:
                value = json.loads(value)
            except ValueError:
                continue
        if isinstance(value, list):
            for m in value:
                if isinstance(m, dict):
                    if "from" in m or "value" in m:
                        return "sharegpt"
                    if "role" in m or "content" in m:
                        return "chat"
    return None


def _format_from_columns(columns: dict) -> str | None:
    roles = set(columns)
    for fmt, role in (("preference", "chosen"), ("classification", "label"), ("alpaca", "instruction"),
                      ("sharegpt", "conversations"), ("chat", "messages"), ("prompt_completion", "completion"),
                      ("prompt_completion", "prompt")):
        if role in roles:
            return fmt
    return None  # {"text": ...} alone: plain text or classification, decided from the file


def detect(rows: list[dict], fmt: str = "auto", columns: dict | None = None, where: str = "") -> tuple[str, dict]:
    """The format and column mapping for these sample rows (raises StudioError when it cannot tell)."""
    columns = {str(k): str(v) for k, v in (columns or {}).items() if v not in (None, "")}
    keys: dict = {}
    for row in rows:
        for k in row:
            keys.setdefault(k, None)
    names = _lookup(keys)
    file_cols = ", ".join(map(str, keys)) or "none"
    for role, col in columns.items():
        if col not in keys:
            real = names.get(col.strip().lower())
            if real is None:
                raise StudioError(f"{where}column '{col}' (for {role}) is not in the file; its columns are: {file_cols}")
            columns[role] = real
    if fmt == "auto" and columns:
        fmt = _format_from_columns(columns) or "auto"
    if fmt != "auto" and fmt not in FORMATS:
        raise StudioError(f"unknown format '{fmt}'; use auto or one of: {', '.join(FORMATS)}")
    if fmt == "auto":
        fmt = _guess(rows, names)
        if set(columns) == {"text"} and fmt != "classification":
            fmt = "text"
        if fmt == "text":  # a text column and an unnamed label column?
            text_col = columns.get("text") or _find("text", names, set())
            label_col = _label_by_values(rows, keys, text_col)
            if label_col is not None:
                fmt, columns = "classification", {"text": text_col, "label": label_col, **columns}
        if fmt is None:
            fmt, guessed = _guess_by_values(rows, keys, where, file_cols)
            columns = {**guessed, **columns}
    need, optional = FIELDS[fmt]
    taken = set(columns.values())
    cols = {}
    for field in need + optional:
        if field in columns:
            cols[field] = columns[field]
            continue
        col = _find(field, names, taken)
        if col is None and field == "prompt" and fmt == "preference":
            col = _find("messages", names, taken)
        if col is not None:
            cols[field] = col
            taken.add(col)
    missing = [f for f in need if f not in cols]
    if missing:
        hint = ", ".join(f"'{f}': ..." for f in missing)
        raise StudioError(f"{where}format '{fmt}' needs a column for {' and '.join(missing)}; the columns are: "
                          f"{file_cols}; name them with columns={{{hint}}}")
    for extra in set(columns) - set(need + optional):
        raise StudioError(f"{where}format '{fmt}' has no field '{extra}'; its fields are: {', '.join(need + optional)}")
    return fmt, cols


def _guess(rows: list[dict], names: dict[str, str]) -> str | None:
    if "chosen" in names and "rejected" in names:
        return "preference"
    for alias in ALIASES["messages"]:
        col = names.get(alias)
        if col is not None:
            style = _message_style(rows, col)
            if style:
                return style
    if "instruction" in names or "instructions" in names:
        return "alpaca"
    taken: set = set()
    prompt = next((names[a] for a in ("prompt", "question", "query", "input") if a in names), None)
    if prompt is not None:
        taken.add(prompt)
        if _find("completion", names, taken):
            return "prompt_completion"
    text = _find("text", names, set())
    if text is not None:
        return "classification" if _find("label", names, {text}) else "text"
    return None


# Columns that often sit next to text and are never its label.
_METADATA = {"id", "idx", "index", "source", "url", "link", "lang", "language", "timestamp", "date", "time", "split",
             "meta", "metadata", "title", "author", "name", "domain", "uuid", "created", "updated"}


def _label_by_values(rows: list[dict], keys, text_col) -> str | None:
    """A column that holds labels judging by its values: short, with few distinct values."""
    n = len(rows)
    for k in keys:
        if k == text_col or str(k).strip().lower() in _METADATA:
            continue
        values = [r.get(k) for r in rows if r.get(k) is not None]
        if len(values) < max(2, 0.8 * n) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values):
            continue
        distinct = {str(v) for v in values}
        avg = sum(len(str(v)) for v in values) / len(values)
        if avg <= 30 and 1 < len(distinct) <= max(2, len(values) // 2):
            return k
    return None


def _is_number(s: str) -> bool:
    """Whether a value read as text (from CSV) is a number: such a column holds no text to train on."""
    s = s.strip()
    if not any(c.isdigit() for c in s):
        return False
    try:
        float(s.replace(",", "."))
        return True
    except ValueError:
        return False


def _guess_by_values(rows: list[dict], keys: dict, where: str, file_cols: str) -> tuple[str, dict]:
    """Columns whose names say nothing: judge by what they hold."""
    stats = []
    for k in keys:
        values = [r.get(k) for r in rows if r.get(k) is not None]
        texts = [v for v in values if isinstance(v, str) and not _is_number(v)]
        scalars = [v for v in values if isinstance(v, (str, int, float)) and not isinstance(v, bool)]
        if not values or len(scalars) < 0.8 * len(values):
            continue
        avg = sum(len(str(v)) for v in scalars) / len(scalars)
        stats.append({"col": k, "avg": avg, "distinct": len({str(v) for v in scalars}), "n": len(scalars),
                      "textual": len(texts) >= 0.8 * len(values)})
    textual = [s for s in stats if s["textual"]]
    if not textual:
        raise StudioError(f"{where}no text columns found (columns: {file_cols}); the studio needs at least one column of text")
    text = max(textual, key=lambda s: s["avg"])
    if len(stats) == 1:
        return "text", {"text": text["col"]}
    labels = [s for s in stats if s is not text and s["avg"] <= 30 and s["distinct"] <= max(2, s["n"] // 2)]
    if labels and text["avg"] > labels[0]["avg"]:
        return "classification", {"text": text["col"], "label": labels[0]["col"]}
    long_cols = [s for s in textual if s["avg"] > 30 or s is text]
    if len(long_cols) == 2 and len(stats) == 2:
        return "prompt_completion", {"prompt": long_cols[0]["col"], "completion": long_cols[1]["col"]}
    raise StudioError(f"{where}cannot tell what the columns hold ({file_cols}); choose a format and name the columns, "
                      "e.g. format='classification', columns={'text': ..., 'label': ...}")

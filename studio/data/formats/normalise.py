"""Per-format normalisers: one raw row (a dict) to the studio's normalised record."""

from __future__ import annotations

from collections.abc import Callable

from studio.data.formats.fields import FORMATS, MEDIA_COLUMNS, RowError
from studio.data.formats.values import _answer, _with_system, as_label, as_text, as_tools, as_verdict, message_list
from studio.core.errors import StudioError


def normaliser(fmt: str, cols: dict[str, str]) -> Callable[[dict], dict]:
    """A function from one raw row (a dict) to its normalised record; raises RowError.

    Images, audio and video (content parts, or columns such as ``images``) are not trained on: a record
    that had some keeps their counts by kind in ``record["media"]`` so the health report can say so.
    """
    norm = _normaliser(fmt, cols)

    def with_media(row):
        skipped: dict = {}
        rec = norm(row, skipped)
        for col, kind in MEDIA_COLUMNS.items():
            value = row.get(col)
            if value is not None and not isinstance(value, (str, bytes, dict)) and hasattr(value, "__len__"):
                n = len(value)
            else:
                n = 1 if value not in (None, "", b"") else 0
            if n:
                skipped[kind] = skipped.get(kind, 0) + n
        if skipped:
            rec["media"] = skipped
        return rec

    return with_media


def _normaliser(fmt: str, cols: dict[str, str]):
    get = cols.get

    if fmt in ("chat", "sharegpt"):  # the same, but for the name of the field that holds the turns
        c_msgs, c_sys, c_tools = cols["messages" if fmt == "chat" else "conversations"], get("system"), get("tools")

        def norm(row, skipped):
            msgs = message_list(row.get(c_msgs), c_msgs, skipped)
            if c_sys:
                msgs = _with_system(msgs, row.get(c_sys))
            tools = as_tools(row.get(c_tools), c_tools) if c_tools else None
            return {"messages": msgs, "tools": tools} if tools else {"messages": msgs}

    elif fmt == "alpaca":
        c_ins, c_in, c_out, c_sys = cols["instruction"], get("input"), get("output"), get("system")

        def norm(row, skipped):
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

        def norm(row, skipped):
            prompt = row.get(c_p)
            if isinstance(prompt, list):  # conversational prompt/completion
                msgs = message_list(prompt, c_p, skipped)
            else:
                msgs = [{"role": "user", "content": as_text(prompt, c_p, required=False) or ""}]
            completion = row.get(c_c) if c_c else None
            if isinstance(completion, list):
                msgs += message_list(completion, c_c, skipped)
            elif isinstance(completion, dict):
                msgs += message_list([completion], c_c, skipped)
            else:
                text = as_text(completion, c_c, required=False) if c_c else None
                if text is not None:
                    msgs.append({"role": "assistant", "content": text})
            if c_sys:
                msgs = _with_system(msgs, row.get(c_sys))
            return {"messages": msgs}

    elif fmt == "text":
        c_t = cols["text"]

        def norm(row, skipped):
            return {"text": as_text(row.get(c_t), c_t, required=False) or ""}

    elif fmt == "classification":
        c_t, c_l = cols["text"], cols["label"]

        def norm(row, skipped):
            return {"text": as_text(row.get(c_t), c_t, required=False) or "", "label": as_label(row.get(c_l), c_l)}

    elif fmt == "preference":
        c_p, c_in, c_ch, c_rj, c_sys = get("prompt"), get("input"), cols["chosen"], cols["rejected"], get("system")

        def norm(row, skipped):
            prompt = row.get(c_p) if c_p else None
            extra = as_text(row.get(c_in), c_in, required=False) if c_in else None
            if extra and extra.strip() and isinstance(prompt, str):  # instruction + input, as Alpaca has them
                prompt = f"{prompt}\n\n{extra}" if prompt.strip() else extra
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

    elif fmt == "feedback":
        c_p, c_c, c_v, c_sys = cols["prompt"], get("completion"), cols["verdict"], get("system")

        def norm(row, skipped):
            prompt, completion = row.get(c_p), row.get(c_c) if c_c else None
            if isinstance(prompt, list):
                msgs = message_list(prompt, c_p, skipped)
            else:
                msgs = [{"role": "user", "content": as_text(prompt, c_p, required=False) or ""}]
            if isinstance(completion, (list, dict)):
                msgs += message_list(completion if isinstance(completion, list) else [completion], c_c, skipped)
            elif completion is not None:
                msgs.append({"role": "assistant", "content": as_text(completion, c_c) or ""})
            if not msgs or msgs[-1]["role"] != "assistant":
                raise RowError("the record has no answer for its verdict to judge")
            if c_sys:
                msgs = _with_system(msgs, row.get(c_sys))
            return {"messages": msgs[:-1], "completion": msgs[-1]["content"], "verdict": as_verdict(row.get(c_v), c_v)}

    else:
        raise StudioError(f"unknown format '{fmt}'; use auto or one of: {', '.join(FORMATS)}")
    return norm


def _shared_prefix(a: list[dict], b: list[dict]) -> list[dict]:
    """The prompt turns of two full conversations that differ only in their last answer."""
    n = 0
    while n < min(len(a), len(b)) - 1 and a[n] == b[n]:
        n += 1
    return a[:n]

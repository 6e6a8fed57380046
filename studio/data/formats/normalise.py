"""Per-format normalisers: one raw row (a dict) to the studio's normalised record."""

from __future__ import annotations

from collections.abc import Callable

from studio.data.formats.feedback import judgement
from studio.data.formats.fields import FORMATS, RowError
from studio.data.formats.values import _answer, _with_system, as_label, as_text, message_list
from studio.errors import StudioError


def normaliser(fmt: str, cols: dict[str, str]) -> Callable[[dict], dict]:
    """A function from one raw row (a dict) to its normalised record; raises RowError."""
    get = cols.get

    if fmt in ("chat", "sharegpt"):  # the same, but for the name of the field that holds the turns
        c_msgs, c_sys = cols["messages" if fmt == "chat" else "conversations"], get("system")

        def norm(row):
            msgs = message_list(row.get(c_msgs), c_msgs)
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
        c_p, c_in, c_ch, c_rj, c_sys = get("prompt"), get("input"), cols["chosen"], cols["rejected"], get("system")

        def norm(row):
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

    elif fmt == "feedback":  # a prompt/completion (or a conversation) and a thumbs-up or thumbs-down label
        conversation = normaliser("prompt_completion", {k: v for k, v in cols.items() if k != "label"})
        c_l = cols["label"]

        def norm(row):
            good = judgement(row.get(c_l))
            if good is None:
                raise RowError(f"'{c_l}' is {row.get(c_l)!r}; expected a judgement such as true/false, 1/0 or 👍/👎")
            return {"messages": conversation(row)["messages"], "label": "true" if good else "false"}

    else:
        raise StudioError(f"unknown format '{fmt}'; use auto or one of: {', '.join(FORMATS)}")
    return norm


def _shared_prefix(a: list[dict], b: list[dict]) -> list[dict]:
    """The prompt turns of two full conversations that differ only in their last answer."""
    n = 0
    while n < min(len(a), len(b)) - 1 and a[n] == b[n]:
        n += 1
    return a[:n]

"""Preference pairs: a prompt and two answers, the chosen and the rejected one (``{"messages": [prompt turns],
"chosen": ..., "rejected": ...}``)."""

from __future__ import annotations

from studio.data.formats.base import DataFormat, find_column
from studio.data.formats.fields import ALIASES
from studio.data.formats.values import _answer, _with_system, as_text, message_list


class PreferenceFormat(DataFormat):
    name = "preference"
    required = ("chosen", "rejected")
    optional = ("prompt", "input", "system")
    # instruction (+ input) before a lone input, then turns
    aliases = {"prompt": ("prompt", "question", "query", "instruction", "instructions", "input", *ALIASES["messages"])}
    claims = ("chosen",)
    claim_rank = 20
    rank = 10
    pairs = True
    saved_columns = {"prompt": "messages", "chosen": "chosen", "rejected": "rejected"}

    def matches(self, rows, names) -> bool:
        return bool(find_column("chosen", names, set()) and find_column("rejected", names, set()))

    def normaliser(self, cols):
        get = cols.get
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

        return norm

    def preview_headers(self) -> list[str]:
        return ["prompt", "chosen", "rejected"]

    def preview_row(self, rec, cut) -> list:
        return [cut(prompt_text(rec)), cut(rec["chosen"]), cut(rec["rejected"])]


def prompt_text(rec: dict) -> str:
    """The prompt turns of a record (its system prompt left out), one per line."""
    return "\n".join(m["content"] for m in rec["messages"] if m["role"] != "system")


def _shared_prefix(a: list[dict], b: list[dict]) -> list[dict]:
    """The prompt turns of two full conversations that differ only in their last answer."""
    n = 0
    while n < min(len(a), len(b)) - 1 and a[n] == b[n]:
        n += 1
    return a[:n]


FORMAT = PreferenceFormat()

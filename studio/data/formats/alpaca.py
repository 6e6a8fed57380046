"""Alpaca: an instruction (with an optional input) and its output, read as one user turn and its answer."""

from __future__ import annotations

from studio.data.formats.base import DataFormat
from studio.data.formats.values import _with_system, as_text


class AlpacaFormat(DataFormat):
    name = "alpaca"
    required = ("instruction",)
    optional = ("input", "output", "system")
    claims = ("instruction",)
    claim_rank = 40
    rank = 40

    def matches(self, rows, names) -> bool:
        return "instruction" in names or "instructions" in names

    def normaliser(self, cols):
        c_ins, c_in, c_out, c_sys = cols["instruction"], cols.get("input"), cols.get("output"), cols.get("system")

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

        return norm


FORMAT = AlpacaFormat()

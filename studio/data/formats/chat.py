"""Chat: conversations as role/content turns (``{"messages": [{"role": ..., "content": ...}, ...]}``), with an
optional system prompt and tools."""

from __future__ import annotations

from studio.data.formats.base import DataFormat, turns_style
from studio.data.formats.values import _with_system, as_tools, message_list


class ChatFormat(DataFormat):
    name = "chat"
    required = ("messages",)
    optional = ("system", "tools")
    claims = ("messages",)
    claim_rank = 60
    rank = 30
    style = "role"  # how the turns are written: role/content

    def matches(self, rows, names) -> bool:
        return turns_style(rows, names) == self.style

    def normaliser(self, cols):
        c_msgs, c_sys, c_tools = cols[self.required[0]], cols.get("system"), cols.get("tools")

        def norm(row, skipped):
            msgs = message_list(row.get(c_msgs), c_msgs, skipped)
            if c_sys:
                msgs = _with_system(msgs, row.get(c_sys))
            tools = as_tools(row.get(c_tools), c_tools) if c_tools else None
            return {"messages": msgs, "tools": tools} if tools else {"messages": msgs}

        return norm


FORMAT = ChatFormat()

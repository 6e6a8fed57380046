"""ShareGPT: conversations as from/value turns (``{"conversations": [{"from": "human", "value": ...}, ...]}``)."""

from __future__ import annotations

from studio.data.formats.chat import ChatFormat


class ShareGPTFormat(ChatFormat):
    name = "sharegpt"
    required = ("conversations",)
    claims = ("conversations",)
    claim_rank = 50
    rank = 31
    style = "from"


FORMAT = ShareGPTFormat()

"""How a conversation becomes the input of an encoder-decoder model (T5, Flan-T5, BART, ...).

An encoder-decoder model reads a source text and writes a target text; it has no chat template. A single
question is given as it is, the way Flan-T5 was taught ("Translate to German: ..."); a system prompt goes
first, separated by a blank line; earlier turns of a conversation are written out as ``User:`` and
``Assistant:`` lines before the last message. Training, chat and evaluation all use ``source_text``, so a
tuned model is asked exactly as it was taught.
"""

from __future__ import annotations

ROLE_NAMES = {"user": "User", "assistant": "Assistant", "tool": "Tool"}


def source_text(messages: list[dict]) -> str:
    """The source text that asks for the next assistant turn after ``messages``."""
    system = [m["content"] for m in messages if m["role"] == "system"]
    turns = [m for m in messages if m["role"] != "system"]
    parts = [s.strip() for s in system if s and s.strip()]
    if len(turns) == 1:
        parts.append(turns[0]["content"])
    elif turns:
        parts.append("\n".join(f"{ROLE_NAMES.get(m['role'], m['role'].title())}: {m['content']}" for m in turns))
    return "\n\n".join(parts)


def source_target_pairs(messages: list[dict]) -> list[tuple[str, str]]:
    """(source, target) for every assistant turn that follows something to answer."""
    pairs = []
    for i, m in enumerate(messages):
        if m["role"] == "assistant" and any(p["role"] not in ("assistant", "system") for p in messages[:i]):
            pairs.append((source_text(messages[:i]), m["content"]))
    return pairs

"""The formats and their fields: what each kind of record holds, and the column names recognised for it."""

from __future__ import annotations

FORMATS = ("chat", "sharegpt", "alpaca", "prompt_completion", "text", "classification", "preference", "feedback")
CHAT_LIKE = ("chat", "sharegpt", "alpaca", "prompt_completion")

# For each format: the fields it needs, and optional ones.
FIELDS = {
    "chat": (("messages",), ("system",)),
    "sharegpt": (("conversations",), ("system",)),
    "alpaca": (("instruction",), ("input", "output", "system")),
    "prompt_completion": (("prompt",), ("completion", "system")),
    "text": (("text",), ()),
    "classification": (("text", "label"), ()),
    "preference": (("chosen", "rejected"), ("prompt", "input", "system")),
    "feedback": (("prompt", "label"), ("completion", "system")),  # one answer, thumbs up or down (formats.feedback)
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
    # preference pairs as other tools and datasets name them (response_j/k: the Stack Exchange paired data)
    "chosen": ("chosen", "chosen_response", "response_chosen", "preferred", "preferred_response", "better",
               "better_response", "accepted", "response_j"),
    "rejected": ("rejected", "rejected_response", "response_rejected", "dispreferred", "dispreferred_response",
                 "worse", "worse_response", "response_k"),
}

ROLE_NAMES = {
    "system": "system",
    "user": "user", "human": "user",
    "assistant": "assistant", "gpt": "assistant", "bot": "assistant", "model": "assistant", "chatgpt": "assistant",
}


class RowError(ValueError):
    """One record that cannot be used; the message says why (it is shown next to its line)."""

"""The column names recognised for each field (shared by the formats; a format may name its own, see ``base``),
media columns, and the role names of conversation turns."""

from __future__ import annotations

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
    "verdict": ("kto_tag", "label", "thumbs", "thumbs_up", "feedback", "is_good", "good", "desirable", "approved",
                "accepted"),
    "tools": ("tools", "functions"),
}

# Columns that hold images, audio or video next to the text: the studio trains on text only and says so.
MEDIA_COLUMNS = {"images": "image", "image": "image", "audios": "audio", "audio": "audio", "videos": "video",
                 "video": "video"}

ROLE_NAMES = {
    "system": "system",
    "user": "user", "human": "user",
    "assistant": "assistant", "gpt": "assistant", "bot": "assistant", "model": "assistant", "chatgpt": "assistant",
    # tool calling: the assistant's calls and what the tools answered
    "function_call": "assistant", "tool_call": "assistant", "tool_calls": "assistant",
    "observation": "tool", "tool": "tool", "function": "tool", "ipython": "tool", "tool_response": "tool",
}
CALL_ROLES = ("function_call", "tool_call", "tool_calls")  # ShareGPT turns whose value is a call (JSON)


class RowError(ValueError):
    """One record that cannot be used; the message says why (it is shown next to its line)."""

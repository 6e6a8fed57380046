"""Prompt and completion: a prompt (text, or conversational turns) and the answer to learn."""

from __future__ import annotations

from studio.data.formats.base import DataFormat, find_column
from studio.data.formats.values import _with_system, as_text, message_list


class PromptCompletionFormat(DataFormat):
    name = "prompt_completion"
    required = ("prompt",)
    optional = ("completion", "system")
    claims = ("completion", "prompt")
    claim_rank = 70
    rank = 50

    def matches(self, rows, names) -> bool:
        prompt = next((names[a] for a in ("prompt", "question", "query", "input") if a in names), None)
        return prompt is not None and find_column("completion", names, {prompt}) is not None

    def normaliser(self, cols):
        c_p, c_c, c_sys = cols["prompt"], cols.get("completion"), cols.get("system")

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

        return norm


FORMAT = PromptCompletionFormat()

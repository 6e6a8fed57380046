"""What a file holds that is trained differently from plain conversations: images and other media
(``media``), tool calling (``tool_calls``) and single-answer feedback (``feedback``)."""

from __future__ import annotations

import re

from studio.data.health.report import Finding, _have, _s, where

_MEDIA_NOUNS = {"audio": "audio clip", "video": "video", "image": "image", "file": "file"}
_MEDIA_MARKER = re.compile(r"<(?:image|audio|video)>")


class ContentsCheck:
    """The ``media``, ``tool_calls`` and ``feedback`` checks."""

    def __init__(self, verdict_data: str, what: str):
        """``verdict_data``: what the file is, in words, when its records carry verdicts ("" when not)."""
        self.verdict_data, self.what = verdict_data, what
        self.media_lines: list[int] = []
        self.media: dict[str, int] = {}
        self.markers = 0
        self.tool_lines: list[int] = []
        self.n_calls = 0
        self.verdicts = {True: 0, False: 0}

    def feed(self, records: list[dict], lines: list[int]) -> None:
        for n, rec in zip(lines, records):
            media = rec.get("media")
            if media:
                self.media_lines.append(n)
                for kind, k in media.items():
                    self.media[kind] = self.media.get(kind, 0) + k
                self.markers += sum(len(_MEDIA_MARKER.findall(m["content"])) for m in rec.get("messages") or ())
            msgs = rec.get("messages") or ()
            calls = sum(len(m.get("tool_calls") or ()) for m in msgs)
            if calls or rec.get("tools") or any(m["role"] == "tool" for m in msgs):
                self.tool_lines.append(n)
                self.n_calls += calls
            if "verdict" in rec:
                self.verdicts[bool(rec["verdict"])] += 1

    def findings(self, tokenizer=None, model: str = "") -> list[Finding]:
        out = []
        if self.media_lines:
            idx = self.media_lines
            kinds = ", ".join(f"{k} {_MEDIA_NOUNS.get(kind, kind)}{_s(k)}" for kind, k in sorted(self.media.items()))
            markers = (f"; the {self.markers} <image>-style marker{_s(self.markers)} in the text "
                       f"{'stays' if self.markers == 1 else 'stay'} as written" if self.markers else "")
            out.append(Finding("media", "warning", len(idx), idx,
                               f"{len(idx)} record{_s(idx)} ({where(self.what, idx)}) refer{'s' if len(idx) == 1 else ''} to {kinds}, which the studio "
                               f"does not train on with this task: they are left out and the model learns from the text only{markers}. "
                               "Fix: for images, train with task: vision and a model that sees images (python -m studio "
                               "check FILE --images checks them); for audio, use a tool made for it; or drop those "
                               "records if their text makes no sense without them."))
        if self.tool_lines:
            out.append(self._tools_finding(tokenizer, model))
        if self.verdict_data:
            good, bad = self.verdicts[True], self.verdicts[False]
            n = good + bad
            out.append(Finding("feedback", "info", n, [],
                               f"This file is {self.verdict_data}. It has {good} approved and {bad} rejected answer{_s(bad)}."))
        return out

    def _tools_finding(self, tokenizer, model: str) -> Finding:
        from studio.core.chat_template import supports_tools

        idx = self.tool_lines
        head = (f"{len(idx)} conversation{_s(idx)} ({where(self.what, idx)}) {_have(idx)} tool calling "
                f"({self.n_calls} call{_s(self.n_calls)}, tool results and tool lists)")
        if tokenizer is None:
            return Finding("tool_calls", "info", len(idx), idx,
                           f"{head}. They are rendered with the model's chat template when it supports tools, and "
                           "the model learns the calls and the answers; check with a model to see whether it does.")
        if supports_tools(tokenizer):
            return Finding("tool_calls", "info", len(idx), idx,
                           f"{head}. The chat template of {model or 'the model'} supports tools: they are rendered "
                           "with it, and the model learns the assistant's calls and answers.")
        return Finding("tool_calls", "warning", len(idx), idx,
                       f"{head}, but the chat template of {model or 'the model'} cannot render tools. They are still "
                       "trained, in plain text: the tools listed in the system turn, each call written as JSON in the "
                       "assistant's turn (learned from), each tool result as a user turn. Fix: pick a model whose chat "
                       "template supports tools (e.g. Qwen2.5 or Llama 3.1 instruct) to train the format it will be used with.")

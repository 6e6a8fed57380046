"""Clean text: HTML and Markdown residue (``markup``) and broken encodings (``encoding``)."""

from __future__ import annotations

import re

from studio.data.health.keys import _texts
from studio.data.health.report import Finding, _have, _s, where
from studio.data.health.scan import _regex

_TAGS = ("a|abbr|b|blockquote|body|br|button|center|code|div|em|font|form|h[1-6]|head|hr|html|i|iframe|img|input|"
         "label|li|link|meta|nav|ol|option|p|pre|script|section|select|small|span|strong|style|sub|sup|table|"
         "tbody|td|th|thead|title|tr|u|ul")
_HTML = re.compile(rf"</?(?:{_TAGS})(?:\s[^<>]{{0,500}})?/?>|&(?:amp|lt|gt|quot|apos|nbsp|#\d{{2,5}}|#x[0-9a-fA-F]{{2,4}});",
                   re.IGNORECASE)
_MARKDOWN = re.compile(r"\*\*[^*\n]{1,100}\*\*|!?\[[^\]\n]{1,200}\]\((?:https?://|www\.|/)[^)\s]*\)|^#{1,6} \S|^```",
                       re.MULTILINE)
_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]+`", re.DOTALL)

_CP1252_HIGH = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
_MOJIBAKE = re.compile(rf"[ÂÃ][\u0080-\u00bf{_CP1252_HIGH}]|â€[\u0080-\u00bf{_CP1252_HIGH}]")
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")


def clean_text_finders(markdown: bool) -> dict:
    """The finders the markup and encoding checks need, for ``_scan_all`` (Markdown only in plain text data:
    ``markdown``)."""
    out = {"html": _regex(_HTML, None, ("<", "&"))}
    if markdown:
        out["markdown"] = _regex(_MARKDOWN, None, ("**", "](", "#", "```"))
    out["mojibake"] = _regex(_MOJIBAKE, None, ("Ã", "Â", "â€"))
    out["bad_chars"] = _regex(_BAD_CHARS)
    return out


class MarkupCheck:
    """The ``markup`` check: HTML tags and entities (outside code blocks in conversations), Markdown residue."""

    def __init__(self, chat_like: bool, what: str):
        self.chat_like, self.what = chat_like, what
        self.lines: list[int] = []
        self.kinds: set[str] = set()
        self.examples: list[str] = []

    def take(self, scans: dict, records: list[dict], lines: list[int]) -> None:
        html = scans["html"]
        if self.chat_like and html:  # HTML inside code blocks is content, not residue
            html = {i: m for i, m in html.items() if _HTML.search(_CODE.sub(" ", _texts(records[i])))}
        md = scans.get("markdown", {})
        if html:
            self.kinds.add("HTML")
        if md:
            self.kinds.add("Markdown")
        for i in sorted(set(html) | set(md)):
            if len(self.lines) < 50:
                self.examples += html.get(i, []) + md.get(i, [])
            self.lines.append(lines[i])

    def findings(self) -> list[Finding]:
        if not self.lines:
            return []
        idx = self.lines
        shown = ", ".join(list(dict.fromkeys(repr(e[:40]) for e in self.examples))[:3])
        kinds_txt = " and ".join(k for k in ("HTML", "Markdown") if k in self.kinds)
        return [Finding("markup", "warning", len(idx), idx,
                        f"{len(idx)} record{_s(idx)} ({where(self.what, idx)}) contain{'s' if len(idx) == 1 else ''} {kinds_txt} "
                        f"markup such as {shown}; the model would learn to write it. Fix: strip markup.", "strip_markup")]


class EncodingCheck:
    """The ``encoding`` check: mojibake, replacement and control characters; lines or files not in UTF-8."""

    def __init__(self, what: str):
        self.what = what
        self.lines: list[int] = []
        self.moj_records = 0
        self.moj_examples: list[str] = []
        self.n_ctrl = self.n_repl = 0

    def take(self, scans: dict, lines: list[int]) -> None:
        moj, bad = scans["mojibake"], scans["bad_chars"]
        for i in sorted(moj):
            if self.moj_records < 50:
                self.moj_examples += moj[i]
            self.moj_records += 1
        for found in bad.values():
            repl = sum(1 for c in found if c == "\ufffd")
            self.n_repl += repl
            self.n_ctrl += len(found) - repl
        self.lines += [lines[i] for i in sorted(set(moj) | set(bad))]

    def findings(self, ds) -> list[Finding]:
        legacy = list(getattr(ds, "legacy_lines", None) or [])
        if self.lines:
            idx = self.lines
            parts = []
            if self.moj_examples:
                ex = list(dict.fromkeys(self.moj_examples))[:3]
                parts.append(f"garbled characters such as {', '.join(repr(e) for e in ex)} (UTF-8 text that was once read "
                             "as Windows-1252)")
            if self.n_repl:
                parts.append(f"{self.n_repl} replacement character{'s' if self.n_repl > 1 else ''} (\ufffd, text lost in a failed decoding)")
            if self.n_ctrl:
                parts.append(f"{self.n_ctrl} control character{'s' if self.n_ctrl > 1 else ''}")
            fix = ("Fix: repair garbled text (ftfy undoes the mis-decoding), or export the data again from its source as UTF-8."
                   if self.moj_examples else "Fix: export the data again from its source as UTF-8.")
            return [Finding("encoding", "warning", len(idx), idx,
                            f"{len(idx)} record{_s(idx)} ({where(self.what, idx)}) {_have(idx)} {'; '.join(parts)}. {fix}",
                            "repair_text" if self.moj_examples else None)]
        if legacy:
            k = len(legacy)
            shown = ", ".join(map(str, legacy[:3])) + (", ..." if k > 3 else "")
            return [Finding("encoding", "info", k, legacy if ds.line_based else [],
                            f"{k} line{_s(k)} of the file (line{_s(k)} {shown}) {'is' if k == 1 else 'are'} not UTF-8 like the "
                            f"rest; {'it was' if k == 1 else 'they were'} read as {getattr(ds, 'fallback_encoding', '') or 'cp1252'}. "
                            "If accented letters look wrong there, save the file as UTF-8 and load it again.")]
        if ds.encoding not in ("utf-8", "ascii"):
            return [Finding("encoding", "info", 0, [], f"The file is not UTF-8; it was read as {ds.encoding}. If any accented "
                            "letters look wrong in the preview, save the file as UTF-8 and load it again.")]
        return []

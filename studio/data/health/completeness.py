"""Rows that could not be read (``malformed``), conversations without an answer (``missing_answer``) and
blank fields (``empty``)."""

from __future__ import annotations

from studio.data.health.report import Finding, _are, _have, _s, where


class CompletenessCheck:
    """The ``malformed``, ``missing_answer`` and ``empty`` checks."""

    def __init__(self, chat_like: bool, what: str):
        self.chat_like, self.what = chat_like, what
        self.missing: list[int] = []
        self.empty: list[int] = []

    def feed(self, records: list[dict], lines: list[int]) -> None:
        missing, empty = self.missing, self.empty
        if self.chat_like:
            for n, rec in zip(lines, records):
                msgs = rec["messages"]
                blank = any(not m["content"].strip() and not m.get("tool_calls") for m in msgs)
                if "chosen" in rec or "completion" in rec:
                    answers = (rec["chosen"], rec["rejected"]) if "chosen" in rec else (rec["completion"],)
                    if blank or any(not a.strip() for a in answers):
                        empty.append(n)
                    continue
                if not any(m["role"] == "assistant" for m in msgs):
                    missing.append(n)
                elif blank:
                    empty.append(n)
        else:
            for n, rec in zip(lines, records):
                if not rec.get("text", "").strip() or ("label" in rec and not rec["label"].strip()):
                    empty.append(n)

    def findings(self, ds, n: int) -> list[Finding]:
        """The findings, given the dataset (for its unreadable rows) and ``n``, the number of records read."""
        out = []
        add = out.append
        # malformed (complete once a stream has been read)
        if ds.malformed:
            bad = ds.malformed
            first = "; ".join(f"{'line' if ds.line_based else 'record'} {n}: {why}" for n, why in bad[:3])
            add(Finding("malformed", "warning", len(bad), [n for n, _ in bad],
                        f"{len(bad)} row{_s(bad)} could not be read and {_are(bad)} left out ({first}"
                        f"{'; ...' if len(bad) > 3 else ''}). Fix the rows in the file if they matter; the rest loads as it is.",
                        "drop_malformed"))

        missing, empty = self.missing, self.empty
        if missing:
            sev = "error" if len(missing) == n else "warning"
            add(Finding("missing_answer", sev, len(missing), missing,
                        f"{len(missing)} conversation{_s(missing)} ({where(self.what, missing)}) {_have(missing)} no assistant "
                        "answer, so there is nothing to learn from them. Fix: add the answers (an 'output', 'completion' or "
                        "assistant turn), or drop those records.", "drop_empty"))
        if empty:
            thing = "prompt or answer" if self.chat_like else "text or label"
            add(Finding("empty", "warning", len(empty), empty,
                        f"{len(empty)} record{_s(empty)} ({where(self.what, empty)}) {_have(empty)} a blank {thing}. "
                        "Fix: fill them in or drop empty records.", "drop_empty"))
        return out

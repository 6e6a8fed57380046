"""Checks of preference pairs (prompt, chosen, rejected): what would make preference tuning learn nothing, the
wrong thing, or look better than it is.

- ``identical_pair``: the chosen and the rejected answer are the same (case, spaces and punctuation ignored):
  there is no preference to learn.
- ``no_prompt``: a pair without a user turn to answer; preference tuning leaves it out.
- ``conflicting_pairs``: the same prompt with answer A preferred over B in one record and B over A in another;
  the two cancel out.
- ``prompt_leakage``: training pairs whose prompt is also in the eval data (with any answers), so the
  preference accuracy measured there says how well the model remembers, not how it generalises.
- ``length_bias``: an info note when the chosen answer is the longer one in at least 80% of 20 or more pairs
  (or the shorter one): DPO can learn to prefer length instead of quality.

Empty sides are the ``empty`` check's and exact repeats the ``duplicate`` check's (``completeness``,
``duplicates``). Like the other checks, these keep digests and line numbers, never records.
"""

from __future__ import annotations

from studio.data.health.keys import _digest, _norm
from studio.data.health.report import Finding, _are, _have, _s, where

LENGTH_BIAS_SHARE = 0.8
LENGTH_BIAS_MIN_PAIRS = 20


def prompt_key(rec: dict) -> bytes:
    """A pair's prompt, normalised (case, spaces and punctuation ignored), as a digest."""
    return _digest(_norm("\x1e".join(f"{m['role']} {m['content']}" for m in rec.get("messages") or [])))


def eval_prompt_keys(records: list[dict]) -> set[bytes]:
    return {prompt_key(r) for r in records if "chosen" in r}


class PairCheck:
    """The preference-pair checks; ``eval_prompts`` (from ``eval_prompt_keys``) enables ``prompt_leakage``."""

    def __init__(self, eval_prompts: set[bytes] | None, what: str):
        self.eval_prompts, self.what = eval_prompts, what
        self.identical: list[int] = []
        self.no_prompt: list[int] = []
        self.leaked: list[int] = []
        self.order: dict[tuple[bytes, bytes, bytes], int] = {}  # (prompt, preferred, other) -> first line
        self.conflicts: list[int] = []
        self.conflict_example: tuple[int, int] | None = None
        self.longer = self.shorter = self.pairs = 0

    def feed(self, records: list[dict], lines: list[int]) -> None:
        for n, rec in zip(lines, records):
            if "chosen" not in rec:
                continue
            chosen, rejected = _norm(rec["chosen"]), _norm(rec["rejected"])
            if not chosen or not rejected:
                continue  # the empty check's
            if chosen == rejected:
                self.identical.append(n)
                continue
            if not any(m["role"] == "user" and m["content"].strip() for m in rec["messages"]):
                self.no_prompt.append(n)
            p = prompt_key(rec)
            c, r = _digest(chosen), _digest(rejected)
            j = self.order.get((p, r, c))
            if j is not None:
                self.conflicts.append(n)
                if self.conflict_example is None:
                    self.conflict_example = (n, j)
            self.order.setdefault((p, c, r), n)
            if self.eval_prompts and p in self.eval_prompts:
                self.leaked.append(n)
            self.pairs += 1
            lc, lr = len(rec["chosen"]), len(rec["rejected"])
            self.longer += lc > lr
            self.shorter += lc < lr

    def findings(self) -> list[Finding]:
        out, what = [], self.what
        if self.identical:
            x = self.identical
            out.append(Finding("identical_pair", "warning", len(x), x,
                               f"{len(x)} pair{_s(x)} ({where(what, x)}) {_have(x)} the same chosen and rejected answer, "
                               "so there is no preference to learn. Fix: write a worse rejected answer, or drop those "
                               "pairs.", "drop_identical_pairs"))
        if self.no_prompt:
            x = self.no_prompt
            out.append(Finding("no_prompt", "warning", len(x), x,
                               f"{len(x)} pair{_s(x)} ({where(what, x)}) {_have(x)} no prompt (no user turn), so "
                               "preference tuning leaves them out. Fix: add the prompt column (prompt, question, "
                               "instruction or conversations), or map it with columns={'prompt': ...}."))
        if self.conflicts:
            x = self.conflicts
            n, j = self.conflict_example
            out.append(Finding("conflicting_pairs", "warning", len(x), x,
                               f"{len(x)} pair{_s(x)} reverse{'s' if len(x) == 1 else ''} the preference of an earlier "
                               f"pair with the same prompt and answers (e.g. {what[:-1]} {n} against {what[:-1]} {j}); "
                               "the two cancel out. Fix: decide which answer is better and drop the other record."))
        if self.leaked:
            x = self.leaked
            out.append(Finding("prompt_leakage", "warning", len(x), x,
                               f"{len(x)} training pair{_s(x)} ({where(what, x)}) {_are(x)} about prompts that the eval "
                               "data also has, so the preference accuracy measured there shows memory more than "
                               "generalisation. Fix: keep each prompt on one side of the split."))
        if self.pairs >= LENGTH_BIAS_MIN_PAIRS:
            share = max(self.longer, self.shorter) / self.pairs
            if share >= LENGTH_BIAS_SHARE:
                side = "longer" if self.longer >= self.shorter else "shorter"
                out.append(Finding("length_bias", "info", round(share * self.pairs), [],
                                   f"In {share:.0%} of the {self.pairs} pairs the chosen answer is the {side} one: "
                                   f"preference tuning can learn to prefer {side} answers rather than better ones. "
                                   "Worth knowing; add pairs where the better answer is the "
                                   f"{'shorter' if side == 'longer' else 'longer'} one if length should not matter."))
        self.order = {}
        return out


def identical_pair(rec: dict) -> bool:
    """The pair's two answers are the same once case, spaces and punctuation are ignored (for the fix)."""
    return "chosen" in rec and _norm(rec["chosen"]) == _norm(rec["rejected"])

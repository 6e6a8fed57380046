"""Repeats: exact (``duplicate``), once case, spaces and punctuation are ignored or nearly the same text
(``near_duplicate``), and training records that are also in the eval data (``leakage``).

Records are compared by digests of their normalised form, so the checks are linear in the number of
records and keep 16 bytes per distinct record; nearly the same text is found with MinHash (``similar``).
"""

from __future__ import annotations

from collections import Counter

from studio.data.health.keys import _digest, _flat, _norm, norm_key
from studio.data.health.report import Finding, _are_in, _repeat, _s, where
from studio.data.health.scan import _chunks
from studio.data.health.similar import NEAR_THRESHOLD, NearIndex, similarity_text


def _eval_keys(eval_ds) -> Counter:
    """Normalised digests of the eval records, with how many eval records have each."""
    keys: Counter = Counter()
    for _, records in _chunks(eval_ds):
        keys.update(norm_key(r) for r in records)
    return keys


class RepeatCheck:
    """The ``duplicate``, ``near_duplicate`` and ``leakage`` checks (``eval_keys`` from ``_eval_keys``, or None)."""

    def __init__(self, eval_keys: Counter | None, what: str):
        self.eval_keys, self.what = eval_keys, what
        self.exact_first: dict[bytes, int] = {}
        self.near_first: dict[bytes, int] = {}
        self.dups: list[int] = []
        self.dup_example: tuple[int, int] | None = None
        self.near: list[int] = []
        self.near_example: tuple[int, int] | None = None
        self.similar = NearIndex()
        self.n_similar = 0
        self.leaked: list[int] = []
        self.leaked_keys: set[bytes] = set()

    def feed(self, records: list[dict], lines: list[int]) -> None:
        exact_first, near_first, eval_keys = self.exact_first, self.near_first, self.eval_keys
        for n, rec in zip(lines, records):
            flat = _flat(rec)
            j = exact_first.setdefault(_digest(flat), n)
            dup = j != n
            if dup:
                self.dups.append(n)
                if self.dup_example is None:
                    self.dup_example = (n, j)
            k = _digest(_norm(flat))
            j = near_first.setdefault(k, n)
            if j != n and not dup:
                self.near.append(n)
                if self.near_example is None:
                    self.near_example = (n, j)
            elif j == n:  # a new text: nearly the same as an earlier one?
                j = self.similar.add(n, similarity_text(rec))
                if j is not None:
                    self.near.append(n)
                    self.n_similar += 1
                    if self.near_example is None:
                        self.near_example = (n, j)
            if eval_keys and k in eval_keys:
                self.leaked.append(n)
                self.leaked_keys.add(k)

    def duplicate_findings(self) -> list[Finding]:
        """``duplicate`` and ``near_duplicate``; the digests are let go."""
        out = []
        add, what = out.append, self.what
        dups, near = self.dups, self.near
        if dups:
            n, j = self.dup_example
            add(Finding("duplicate", "warning", len(dups), dups,
                        f"{len(dups)} record{_s(dups)} {_repeat(dups)} an earlier record exactly (e.g. {what[:-1]} {n} "
                        f"repeats {what[:-1]} {j}). Repeats weigh those examples more and leak into the eval split. "
                        "Fix: drop duplicates.", "drop_duplicates"))
        if near:
            n, j = self.near_example
            k_sim, k_norm = self.n_similar, len(near) - self.n_similar
            parts = []
            if k_norm:
                parts.append(f"{k_norm} the same once case, spaces and punctuation are ignored")
            if k_sim:
                parts.append(f"{k_sim} nearly the same text")
            limit = (f" (only the first {self.similar.limit:,} records were compared for nearly the same text)"
                     if self.similar.full else "")
            add(Finding("near_duplicate", "warning", len(near), near,
                        f"{len(near)} record{_s(near)} nearly {_repeat(near)} an earlier record: {' and '.join(parts)} "
                        f"(e.g. {what[:-1]} {n} and {what[:-1]} {j}). Nearly the same text means a Jaccard similarity of "
                        f"at least {NEAR_THRESHOLD} between the records' sets of word pairs (MinHash, system turns left "
                        f"out){limit}. Near repeats weigh one example more and blur the eval split. "
                        "Fix: drop near duplicates (the first of each group is kept).", "drop_near_duplicates",
                        {"threshold": NEAR_THRESHOLD, "method": "MinHash over word pairs (datasketch)"}))
        self.exact_first = self.near_first = {}
        self.similar = None
        return out

    def leakage_findings(self) -> list[Finding]:
        leaked = self.leaked
        if not leaked:
            return []
        n_eval = sum(self.eval_keys[k] for k in self.leaked_keys)
        return [Finding("leakage", "warning", len(leaked), leaked,
                        f"{len(leaked)} training record{_s(leaked)} ({where(self.what, leaked)}) also {_are_in(leaked)} the "
                        f"eval data ({n_eval} eval record{_s(n_eval)}), so eval scores would look better than the model is. "
                        "Fix: drop the leaked records from the training data.", "drop_leaked")]

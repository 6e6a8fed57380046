"""Classification labels: the same text with different labels (``conflicting_labels``), label balance
(``imbalance``) and spellings of one label (``label_variants``)."""

from __future__ import annotations

from array import array
from collections import Counter

from studio.data.health.keys import _digest, _norm, label_key
from studio.data.health.report import Finding, _s, where

IMBALANCE_RATIO = 3.0


class LabelCheck:
    """The label checks, for classification data."""

    def __init__(self, what: str):
        self.what = what
        self.label_counts: Counter = Counter()
        self.label_lines: dict[str, array] = {}
        self.by_text: dict[bytes, tuple | list] = {}  # text digest -> (label key, line), or [label keys, lines]

    def feed(self, records: list[dict], lines: list[int]) -> None:
        counts, label_lines, by_text = self.label_counts, self.label_lines, self.by_text
        for n, rec in zip(lines, records):
            label = rec["label"]
            counts[label] += 1
            arr = label_lines.get(label)
            if arr is None:
                arr = label_lines[label] = array("q")
            arr.append(n)
            text = _norm(rec["text"])
            if not text:
                continue
            key, lab = _digest(text), label_key(label)
            seen = by_text.get(key)
            if seen is None:
                by_text[key] = (lab, n)
            elif isinstance(seen, tuple):
                by_text[key] = [{seen[0], lab}, [seen[1], n]]
            else:
                seen[0].add(lab)
                seen[1].append(n)

    def conflict_findings(self) -> list[Finding]:
        """``conflicting_labels``; the text digests are let go."""
        out = []
        clash = [v for v in self.by_text.values() if isinstance(v, list) and len(v[0]) > 1]
        if clash:
            idx = sorted(n for v in clash for n in v[1])
            out.append(Finding("conflicting_labels", "warning", len(idx), idx,
                               f"{len(clash)} text{_s(clash)} appear{'s' if len(clash) == 1 else ''} with different labels "
                               f"({where(self.what, idx)}), which teaches the model both answers. Fix: keep the right label "
                               "and drop the others."))
        self.by_text = {}
        return out

    def findings(self) -> list[Finding]:
        """``imbalance`` and ``label_variants``."""
        out = []
        add = out.append
        counts = self.label_counts
        n = sum(counts.values())
        if len(counts) == 1:
            (label, k), = counts.items()
            add(Finding("imbalance", "error", k, [], f"Every record has the label '{label}'; a classifier needs at least two "
                        "labels to learn anything. Fix: add examples of the other labels."))
        elif counts:
            (top, k_top), (low, k_low) = counts.most_common()[0], counts.most_common()[-1]
            ratio = k_top / k_low
            if ratio > IMBALANCE_RATIO:
                rare = [lab for lab, k in counts.items() if k * IMBALANCE_RATIO < k_top]
                shares = ", ".join(f"'{lab}' {k} ({100 * k / n:.0f}%)" for lab, k in counts.most_common(6))
                add(Finding("imbalance", "warning", len(rare), [],
                            f"Labels are unbalanced: {shares}{', ...' if len(counts) > 6 else ''}; '{top}' has {ratio:.1f} times "
                            f"the records of '{low}' (above {IMBALANCE_RATIO:.0f}:1), so the model may learn to favour '{top}'. "
                            "Fix: add examples of the rare labels, or turn on 'Balance classes' (class weights) in training."))
        groups: dict[str, Counter] = {}
        for lab, k in counts.items():
            groups.setdefault(label_key(lab), Counter())[lab] = k
        variants = {key: c for key, c in groups.items() if len(c) > 1}
        if variants:
            canon = {lab: c.most_common(1)[0][0] for c in variants.values() for lab in c}
            idx = sorted(n for lab, best in canon.items() if lab != best for n in self.label_lines[lab])
            desc = "; ".join(" and ".join(repr(lab) for lab in c) + f" -> {c.most_common(1)[0][0]!r}" for c in list(variants.values())[:4])
            add(Finding("label_variants", "warning", len(idx), idx,
                        f"Labels that differ only in case, spaces or punctuation would be learned as different classes: {desc} "
                        f"({len(idx)} record{_s(idx)} to change). Fix: merge label variants into the most common spelling.",
                        "merge_label_variants"))
        return out

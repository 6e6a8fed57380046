"""Lengths in the model's own tokens (``too_long``): examples the max length would cut, measured on a sample."""

from __future__ import annotations

import random

from studio.data.health.report import Finding, Report, _s, where

TOO_LONG_WARN = 0.05
LENGTH_SAMPLE = 10_000  # records tokenized for the length check; larger sets are sampled (share within about 1%)


class LengthCheck:
    """The ``too_long`` check, on a reservoir sample of ``size`` records (0: no sample, no check)."""

    def __init__(self, measured_text, chat_like: bool, what: str, size: int):
        """``measured_text(rec, tokenizer)``: the text whose tokens count (the format's ``measured_text``)."""
        self.measured_text, self.chat_like, self.what = measured_text, chat_like, what
        # a reservoir sample of (position, line, record)
        self.sample_size = size
        self.sample: list[tuple[int, int, dict]] = []
        self.rng = random.Random(0)

    def feed(self, records: list[dict], lines: list[int], base: int) -> None:
        """Sample from one chunk; ``base``: how many records came before it."""
        k, sample, rng = self.sample_size, self.sample, self.rng
        for pos, (n, rec) in enumerate(zip(lines, records), base):
            if pos < k:
                sample.append((pos, n, rec))
            else:
                j = rng.randrange(pos + 1)
                if j < k:
                    sample[j] = (pos, n, rec)

    def measure(self, report: Report, n: int, tokenizer, max_length: int | None) -> None:
        """Measure the sample: sets ``report.lengths`` and adds the ``too_long`` findings to the report."""
        sample = sorted(self.sample)
        self.sample = []
        report.length_sampled = n > len(sample)
        chat_like = self.chat_like
        texts, kept, failed = [], [], []
        for _, line, rec in sample:
            try:
                texts.append(self.measured_text(rec, tokenizer))  # as the format's records are trained
                kept.append(line)
            except Exception as e:  # noqa: BLE001 - a template that rejects a record: report it, keep going
                failed.append((line, str(e).splitlines()[0] if str(e) else type(e).__name__))
        lengths: list[int] = []
        for b in range(0, len(texts), 1000):
            enc = tokenizer(texts[b: b + 1000], add_special_tokens=not chat_like)["input_ids"]
            lengths.extend(len(x) for x in enc)
        report.lengths = lengths
        if failed:
            bad = [line for line, _ in failed]
            report.findings.append(Finding("too_long", "warning", len(failed), bad,
                                           f"{len(failed)} record{_s(failed)} ({where(self.what, bad)}) could not be "
                                           f"rendered with the model's chat template ({failed[0][1]}). Fix: check the roles "
                                           "and their order in those conversations."))
        if not max_length or not lengths:
            return
        cut = [line for line, k in zip(kept, lengths) if k > max_length]
        if not cut:
            return
        share = len(cut) / len(lengths)
        longest = max(lengths)
        est = f" (estimated from {len(lengths):,} sampled records)" if report.length_sampled else ""
        count = round(share * n) if report.length_sampled else len(cut)
        lost = "the end, where the answer is" if chat_like else "the end"
        report.findings.append(Finding(
            "too_long", "warning" if share >= TOO_LONG_WARN else "info", count, cut,
            f"{count} of {n} examples ({100 * share:.1f}%){est} are longer than {max_length} tokens and would be cut at "
            f"{lost} ({where(self.what, cut)}; the longest has {longest} tokens). Fix: raise the max length (more memory), "
            "or shorten or drop those examples."))

"""The streaming driver: one pass over the records, in chunks, feeding every check; then the report."""

from __future__ import annotations

from collections import Counter

from studio.data.formats import registry
from studio.data.health.cleanliness import EncodingCheck, MarkupCheck, clean_text_finders
from studio.data.health.completeness import CompletenessCheck
from studio.data.health.contents import ContentsCheck
from studio.data.health.duplicates import RepeatCheck, _eval_keys
from studio.data.health.pairs import PairCheck, eval_prompt_keys
from studio.data.health.labels import LabelCheck
from studio.data.health.lengths import LENGTH_SAMPLE, LengthCheck
from studio.data.health.pii import _PII_FINDERS, PiiCheck
from studio.data.health.placeholders import PlaceholderCheck, placeholder_finder
from studio.data.health.report import Report
from studio.data.health.keys import norm_key
from studio.data.health.scan import _chunks, _scan_all


def check_dataset(ds, eval_ds=None, tokenizer=None, max_length: int | None = None,
                  length_sample: int = LENGTH_SAMPLE, model: str = "") -> Report:
    """Run every check on a dataset (and its eval set, for leakage); see the module docs.

    ``model`` names the model whose ``tokenizer`` is given, in messages (e.g. about its chat template).

    ``ds`` and ``eval_ds`` are ``Dataset`` objects, or ``RecordStream`` objects from ``open_records``:
    a stream is read once, in chunks, and the report keeps only digests and line numbers of what it
    has seen (and a sample of records for the length check), so memory stays small for big files.
    """
    eval_keys, eval_prompts = None, None
    if eval_ds is not None and registry.get(ds.format).pairs:  # one pass over the eval data: records and prompts
        eval_keys, eval_prompts = Counter(), set()
        for _, records in _chunks(eval_ds):
            eval_keys.update(norm_key(r) for r in records)
            eval_prompts |= eval_prompt_keys(records)
    elif eval_ds is not None:
        eval_keys = _eval_keys(eval_ds)
    checker = _Checker(ds, eval_keys, length_sample if tokenizer is not None else 0, eval_prompts)
    for lines, records in _chunks(ds):
        checker.feed(records, lines)
    return checker.finish(ds, tokenizer, max_length, model)


class _Checker:
    """The checks, fed chunk by chunk in record order; ``finish`` makes the report."""

    def __init__(self, ds, eval_keys: Counter | None, length_sample: int, eval_prompts: set | None = None):
        self.format = ds.format
        fmt = registry.get(ds.format)  # what the format says its records hold decides which checks run
        what = "lines" if ds.line_based else "records"
        chat_like = fmt.conversational
        self.n = 0
        self.completeness = CompletenessCheck(chat_like, what)
        self.repeats = RepeatCheck(eval_keys, what)
        self.labels = LabelCheck(what) if fmt.labels else None
        self.pairs = PairCheck(eval_prompts, what) if fmt.pairs else None
        # the content checks share one scan of the text per chunk
        self.finders = dict(_PII_FINDERS()) | clean_text_finders(markdown=not chat_like) | {"placeholder": placeholder_finder}
        self.pii = PiiCheck(what)
        self.placeholders = PlaceholderCheck(what)
        self.contents = ContentsCheck(fmt.about if fmt.verdicts else "", what)
        self.markup = MarkupCheck(chat_like, what)
        self.encoding = EncodingCheck(what)
        self.lengths = LengthCheck(fmt.measured_text, chat_like, what, length_sample)

    def feed(self, records: list[dict], lines: list[int]) -> None:
        base = self.n
        self.n += len(records)
        self.completeness.feed(records, lines)
        self.contents.feed(records, lines)
        self.repeats.feed(records, lines)
        if self.labels is not None:
            self.labels.feed(records, lines)
        if self.pairs is not None:
            self.pairs.feed(records, lines)
        scans = _scan_all(records, self.finders)
        self.pii.take(scans, lines)
        self.markup.take(scans, records, lines)
        self.encoding.take(scans, lines)
        self.placeholders.take(scans, lines)
        if self.lengths.sample_size:
            self.lengths.feed(records, lines, base)

    def finish(self, ds, tokenizer, max_length, model: str = "") -> Report:
        report = Report(format=self.format, rows=self.n, source=ds.source, malformed=len(ds.malformed))
        findings = report.findings
        findings += self.contents.findings(tokenizer, model)
        findings += self.completeness.findings(ds, self.n)
        findings += self.repeats.duplicate_findings()
        if self.labels is not None:
            findings += self.labels.conflict_findings()
        findings += self.repeats.leakage_findings()
        if self.pairs is not None:
            findings += self.pairs.findings()
        if self.labels is not None:
            report.labels = dict(self.labels.label_counts.most_common())
            findings += self.labels.findings()
        findings += self.pii.findings() + self.placeholders.findings() + self.markup.findings() + self.encoding.findings(ds)
        if self.lengths.sample_size and tokenizer is not None:
            self.lengths.measure(report, self.n, tokenizer, max_length)
        return report

"""The dataset health report: what in a dataset will hurt training, where it is, and how to fix it.

Each check gives at most one finding, with the records it concerns (their lines in the file for
JSONL, CSV and text; their record numbers for JSON and Parquet), how many there are, and a message
in plain English that ends with the fix. A clean file gives no findings.

Severities: ``error`` means training on the data as it is would be pointless (no answers at all, a
single label); ``warning`` means it will likely hurt the result; ``info`` is worth knowing.

Checks (names are stable; the web UI and ``python -m studio check --json`` use them):

- ``malformed``: rows that could not be read and were left out.
- ``missing_answer``: conversations without an assistant turn (nothing to learn from).
- ``empty``: blank text, prompt or answer, or a blank label.
- ``duplicate``: exact repeats of an earlier record (count = the extra copies).
- ``near_duplicate``: repeats once case, spaces and punctuation are ignored (found by hashing a normalised
  form), and nearly the same text: a Jaccard similarity of at least 0.8 between the records' sets of word
  pairs, found with MinHash LSH and confirmed exactly (``similar``). Exact repeats are not counted again.
- ``conflicting_labels``: the same text (normalised as above) with different labels.
- ``leakage``: training records that also appear in the eval data (compared in normalised form).
- ``imbalance``: a warning when the most common label has more than 3 times the records of the
  rarest (3:1 is where a small classifier starts to favour the majority noticeably); an error when
  there is only one label.
- ``label_variants``: labels that differ only in case, spaces or punctuation ("Positive", "positive ").
- ``too_long``: examples longer than the max length in the model's own tokens (as the chat template
  renders them; classification text as the classifier reads it); they would be cut at the end, where
  the answer usually is. A warning from 5%. Sets over 10,000 records are measured on a sample.
- ``pii``: email addresses, phone numbers, payment card numbers (Luhn-checked) and API keys or
  private keys (OpenAI ``sk-``, Hugging Face ``hf_``, AWS ``AKIA``, GitHub, Slack, Google).
- ``markup``: HTML tags and entities everywhere (outside code blocks in conversations), and Markdown
  residue (bold, links, headings) in plain text and classification data, where it is scraping residue
  rather than answer style.
- ``identical_pair``, ``no_prompt``, ``conflicting_pairs``, ``prompt_leakage``, ``length_bias``: preference
  pairs with nothing to learn, without a prompt, reversing another pair, whose prompt is in the eval data, and
  chosen answers that are nearly always the longer (or shorter) one (``pairs``).
- ``placeholder``: template placeholders left in (``{{name}}``, ``<NAME>``, ``[INSERT NAME]``, ``{name}``),
  outside code; the finding's ``details`` list them for the fill form (``fill_placeholders``).
- ``media``: images, audio or video (content parts, ``images`` columns) left out of training, with counts.
- ``tool_calls``: tool-calling conversations, and whether the model's chat template renders tools.
- ``feedback``: single-answer feedback data, which no task trains on (an error that says what to use).
- ``encoding``: mojibake (UTF-8 read as Windows-1252: "Ã©", "â€™"), replacement characters and
  control characters; an info note when the file was not UTF-8, or when some of its lines were not.

The checks make one pass over the records, in chunks, keeping digests and line numbers rather than
records, so ``check_dataset(open_records(path))`` reports on a file of any size in little memory.

One module per family of checks: ``completeness`` (malformed, missing_answer, empty), ``duplicates``
(duplicate, near_duplicate, leakage), ``labels`` (conflicting_labels, imbalance, label_variants), ``pii``,
``cleanliness`` (markup, encoding), ``placeholders``, ``contents`` (media, tool_calls, feedback),
``lengths`` (too_long) and ``pairs`` (preference pairs); ``check`` drives them over the records
(``scan`` reads them in chunks), ``report`` has the types and ``keys`` the record digests.
"""

from studio.data.health.check import check_dataset
from studio.data.health.cleanliness import _CODE, _HTML
from studio.data.health.keys import exact_key, label_key, norm_key
from studio.data.health.labels import IMBALANCE_RATIO
from studio.data.health.lengths import LENGTH_SAMPLE, TOO_LONG_WARN
from studio.data.health.pii import _SECRET, _find_secrets, find_pii, luhn_ok
from studio.data.health.report import MAX_LISTED, SEVERITIES, Finding, Report

__all__ = ["IMBALANCE_RATIO", "LENGTH_SAMPLE", "MAX_LISTED", "SEVERITIES", "TOO_LONG_WARN", "_CODE", "_HTML", "_SECRET",
           "Finding", "Report", "_find_secrets", "check_dataset", "exact_key", "find_pii", "label_key", "luhn_ok", "norm_key"]

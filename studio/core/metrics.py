"""Text-generation metrics computed offline: ROUGE-L, BLEU, exact match, perplexity.

ROUGE-L comes from ``rouge-score`` and BLEU from ``sacrebleu`` (the same numbers the Hugging Face
``evaluate`` metrics give, without fetching metric scripts from a hub). Scores are on a 0-1 scale except
BLEU, which is 0-100 as sacrebleu reports it.
"""

from __future__ import annotations

import math
import re
import string

_TRAILING = string.punctuation + "。！？，、；：…»«“”‘’"


def normalize_answer(text: str) -> str:
    """Lower case, one space between words, no punctuation or quotes at either end."""
    text = " ".join((text or "").lower().split())
    return text.strip(_TRAILING + " ")


def exact_match(predictions: list[str], references: list[str]) -> float:
    """Share of predictions equal to their reference after :func:`normalize_answer` (0-1)."""
    _check(predictions, references)
    if not predictions:
        return 0.0
    hits = sum(normalize_answer(p) == normalize_answer(r) for p, r in zip(predictions, references))
    return hits / len(predictions)


def rouge_l_scores(predictions: list[str], references: list[str]) -> list[float]:
    """ROUGE-L F-measure of each prediction against its reference (0-1)."""
    from rouge_score import rouge_scorer

    _check(predictions, references)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False, tokenizer=_WordTokenizer())
    return [scorer.score(r, p)["rougeL"].fmeasure for p, r in zip(predictions, references)]


def rouge_l(predictions: list[str], references: list[str]) -> float:
    """Mean ROUGE-L F-measure (0-1): the longest common word subsequence, balancing precision and recall."""
    scores = rouge_l_scores(predictions, references)
    return sum(scores) / len(scores) if scores else 0.0


def bleu(predictions: list[str], references: list[str]) -> float:
    """Corpus BLEU (0-100, sacrebleu's default 13a tokenizer and smoothing)."""
    import sacrebleu

    _check(predictions, references)
    if not predictions:
        return 0.0
    return float(sacrebleu.corpus_bleu(list(predictions), [list(references)]).score)


def sentence_bleu(prediction: str, reference: str) -> float:
    import sacrebleu

    return float(sacrebleu.sentence_bleu(prediction, [reference]).score)


def perplexity(loss: float | None) -> float | None:
    """exp(loss), capped so that a diverged loss gives a large number instead of an overflow."""
    if loss is None or (isinstance(loss, float) and math.isnan(loss)):
        return None
    return math.exp(min(float(loss), 50.0))


def short_answers(references: list[str], max_words: int = 8) -> bool:
    """True when the typical reference is a few words, where exact match says something."""
    if not references:
        return False
    lengths = sorted(len(r.split()) for r in references)
    return lengths[len(lengths) // 2] <= max_words


def generation_metrics(predictions: list[str], references: list[str]) -> dict:
    """ROUGE-L, BLEU and exact match of predictions against references."""
    return {
        "rougeL": round(rouge_l(predictions, references), 4),
        "bleu": round(bleu(predictions, references), 2),
        "exact_match": round(exact_match(predictions, references), 4),
    }


class _WordTokenizer:
    """rouge-score's default tokenizer drops every non-ASCII letter; this one keeps words in any script."""

    _word = re.compile(r"\w+", re.UNICODE)

    def tokenize(self, text: str) -> list[str]:
        return self._word.findall((text or "").lower())


def _check(predictions, references) -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")

"""Checks of the tuned replies that the preference scores cannot see: a reply that repeats itself, and an answer
the base model gave that the tuned one lost.

- ``repetition(text)``: the share of a reply's word n-grams (3 words) that repeat an earlier one, and the phrase
  repeated most. "Happy to help. Happy to help. Happy to help." scores high; an ordinary sentence scores 0.
- ``key_terms(chosen, rejected)``: what a pair's answer is about rather than how it is said: the numbers and
  content words the chosen and the rejected answer share and the prompt does not (the pairs teach a style; the
  fact is on both sides), or the chosen answer's numbers and names where the sides share none.
- ``reply_warnings(rows)``: for held-out rows with base and tuned replies, the warnings to show and, per row, the
  flags behind them. KTO runs (task feedback) use the same checks with their own advice.
"""

from __future__ import annotations

import re
from collections import Counter

NGRAM = 3
REPEAT_SHARE = 0.3  # a reply whose 3-grams repeat this much is flagged
MIN_NGRAMS = 6  # shorter replies are not judged (a short reply can repeat a phrase once legitimately)
NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
STOPWORDS = set("""a an the is are was were be been being am of to in on at by for with from as and or but not no
it its this that these those there here what which who whom whose when where why how do does did has have had
i you he she we they me him her us them my your his our their so if then than too very can could will would should
may might must shall about into over under up down out off again also just only more most some any each all both
yes sure certainly happy help glad great question answer short summary hello hi thanks thank please well
""".split())


def words(text: str) -> list[str]:
    return [NUMBER_WORDS.get(w, w) for w in re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())]


def repetition(text: str) -> tuple[float, str]:
    """(share of word 3-grams that repeat an earlier one, the most repeated phrase); (0, "") for short text."""
    w = words(text)
    grams = [" ".join(w[i:i + NGRAM]) for i in range(len(w) - NGRAM + 1)]
    if len(grams) < MIN_NGRAMS:
        return 0.0, ""
    counts = Counter(grams)
    share = 1 - len(counts) / len(grams)
    top, n = counts.most_common(1)[0]
    return round(share, 3), (top if n > 1 else "")


def key_terms(chosen: str, rejected: str = "", prompt: str = "") -> set[str]:
    """The answer's key terms: numbers and content words both sides share and the prompt does not hold; else the
    chosen answer's numbers and capitalised names that are not in the prompt."""
    asked = set(words(prompt))
    content = lambda text: {w for w in words(text)  # noqa: E731
                            if w not in STOPWORDS and w not in asked and (w.isdigit() or len(w) > 2)}
    shared = content(chosen) & content(rejected) if rejected else set()
    if shared:
        return shared
    names = {w.lower() for w in re.findall(r"\b[A-Z][a-z]+", chosen)} - STOPWORDS - asked
    return {w for w in content(chosen) if w.isdigit() or w in names}


def has_term(reply: str, term: str) -> bool:
    target = words(term)
    w = words(reply)
    return any(w[i:i + len(target)] == target for i in range(len(w) - len(target) + 1)) if target else False


REPEAT_ADVICE = "Try fewer steps, a lower learning rate, a higher beta, or a higher preference.sft_weight."
LOST_ADVICE = "Try a higher preference.sft_weight, fewer steps or a lower learning rate."


def reply_warnings(rows: list[dict], repeat_advice: str = REPEAT_ADVICE,
                   lost_advice: str = LOST_ADVICE) -> tuple[list[str], list[dict]]:
    """Warnings over rows holding ``base``, ``tuned``, ``chosen`` (and ``rejected``) texts, and per-row flags:
    ``tuned_repetition`` (share of repeated 3-grams) and ``lost_terms`` (key terms in the base reply, not in the
    tuned one). A row with no ``chosen`` answer is checked for repetition only."""
    flags, repeats, lost = [], [], []
    for i, row in enumerate(rows):
        share, phrase = repetition(row.get("tuned", ""))
        base_share, _ = repetition(row.get("base", ""))
        terms = key_terms(row.get("chosen", ""), row.get("rejected", ""), row.get("prompt", ""))
        gone = sorted(t for t in terms if has_term(row.get("base", ""), t) and not has_term(row.get("tuned", ""), t))
        flags.append({"tuned_repetition": share, "lost_terms": gone})
        if share >= REPEAT_SHARE and share > base_share:
            repeats.append((i, phrase))
        if gone:
            lost.append((i, gone))
    notes = []
    n = len(rows)
    if repeats:
        where = ", ".join(f"#{i + 1}" + (f' ("{p}")' if p else "") for i, p in repeats[:3])
        notes.append(f"{len(repeats)} of {n} tuned replies repeat themselves ({where}): the tuning pushed too far. "
                     + repeat_advice)
    if lost:
        where = ", ".join(f"#{i + 1} ({', '.join(g)})" for i, g in lost[:3])
        notes.append(f"{len(lost)} of {n} tuned replies lost an answer the base reply had: {where}. "
                     + lost_advice)
    return notes, flags

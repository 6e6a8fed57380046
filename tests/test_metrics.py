"""Generation metrics against values worked out by hand on tiny examples."""

import math

import pytest

from studio.core import metrics


def test_normalize_answer_ignores_case_spaces_and_trailing_punctuation():
    assert metrics.normalize_answer("  Paris.  ") == "paris"
    assert metrics.normalize_answer("The  Answer\nis 4!") == "the answer is 4"
    assert metrics.normalize_answer('"Yes?"') == "yes"
    assert metrics.normalize_answer("3.5") == "3.5"  # inner punctuation stays


def test_exact_match_counts_normalised_equal_answers():
    preds = ["Paris.", "berlin", "Rome is the capital", "  42 "]
    refs = ["paris", "Berlin!", "Rome", "42"]
    assert metrics.exact_match(preds, refs) == pytest.approx(3 / 4)
    assert metrics.exact_match([], []) == 0.0
    with pytest.raises(ValueError):
        metrics.exact_match(["a"], [])


def test_rouge_l_is_the_lcs_f_measure():
    # LCS of "the cat sat on the mat" and "the cat is on the mat" is "the cat on the mat": 5 words of 6 each.
    assert metrics.rouge_l(["the cat sat on the mat"], ["the cat is on the mat"]) == pytest.approx(5 / 6)
    # prediction of 2 words, reference of 4, LCS 2: P=1, R=1/2, F=2/3
    assert metrics.rouge_l(["hello world"], ["hello big wide world"]) == pytest.approx(2 / 3)
    assert metrics.rouge_l(["a b", "x"], ["a b", "y"]) == pytest.approx(0.5)
    assert metrics.rouge_l(["Привет мир"], ["привет мир"]) == pytest.approx(1.0)  # words in any script


def test_bleu_matches_the_hand_computed_geometric_mean():
    # precisions 5/6, 3/5, 2/4, 1/3 and equal lengths (no brevity penalty): (1/12) ** (1/4)
    got = metrics.bleu(["the cat sat on the mat"], ["the cat sat on a mat"])
    assert got == pytest.approx(100 * (1 / 12) ** 0.25, abs=0.01)
    assert metrics.bleu(["a b c d e"], ["a b c d e"]) == pytest.approx(100.0)
    assert metrics.sentence_bleu("the cat sat on the mat", "the cat sat on a mat") == pytest.approx(got)


def test_generation_metrics_and_perplexity():
    m = metrics.generation_metrics(["Paris.", "blue"], ["Paris", "green"])
    assert m == {"rougeL": 0.5, "bleu": pytest.approx(m["bleu"]), "exact_match": 0.5}
    assert metrics.perplexity(math.log(7.0)) == pytest.approx(7.0)
    assert metrics.perplexity(1e9) == pytest.approx(math.exp(50))
    assert metrics.perplexity(None) is None
    assert metrics.short_answers(["Paris", "four", "the blue one"])
    assert not metrics.short_answers(["Arr matey! The capital of France is Paris. Yo ho ho!"])

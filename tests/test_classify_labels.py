"""Classification as users feed it: label spellings that differ in case, spaces or punctuation, empty labels, a column
mapping with a held-out file in plain text/label columns, evaluation cut by --limit, and the exported
pipeline agreeing with the studio on texts longer than the training max length."""

import json
from pathlib import Path

import pytest

from test_classify import classify_config, review_rows, tiny_bert_dir, write_csv  # noqa: F401

from studio.core.runfolder import RunFolder


def test_label_aliases_and_matcher():
    from studio.tasks.classification import clean_label, label_aliases, label_matcher

    recs = [{"text": "t", "label": lab} for lab in
            ["positive", "positive", "Positive", "positive ", " negative", "Negative", "Negative", "neutral"]]
    assert clean_label("  very   good ") == "very good"
    assert label_aliases(recs) == {"Positive": "positive", "positive ": "positive", " negative": "Negative"}
    match = label_matcher(["Negative", "neutral", "positive"])
    assert [match(x) for x in ("POSITIVE ", "negative", "neutral", "other", "", 3)] == [
        "positive", "Negative", "neutral", None, None, None]
    assert label_matcher(["1", "2"])(1) == "1"
    # the data health report's rule: punctuation too, but labels made of punctuation stay apart
    assert label_aliases([{"text": "t", "label": lab} for lab in ("good", "good", "Good!")]) == {"Good!": "good"}
    assert label_aliases([{"text": "t", "label": lab} for lab in ("+", "-", "+")]) == {}


def test_setup_merges_label_variants_and_leaves_out_empty_labels(tiny_bert_dir, tmp_path):  # noqa: F811
    from studio.tasks.classification import setup_classification
    from studio.core.hardware import detect_hardware

    rows = review_rows(24, 11)
    spell = {"pos": ["positive", "Positive", "positive "], "neg": ["negative", "NEGATIVE", " negative"]}
    recs = [{"text": t, "label": spell[lab][i % 3]} for i, (t, lab) in enumerate(rows)]
    recs.append({"text": "a text nobody labelled", "label": ""})
    evals = [{"text": "the plot was dull", "label": "Negative "}, {"text": "a lovely film", "label": "POSITIVE"},
             {"text": "whatever", "label": "mixed"}]
    cfg = classify_config(tiny_bert_dir, "x.csv", str(tmp_path / "r"))
    setup = setup_classification(cfg, detect_hardware(), recs, evals)
    assert setup.info["labels"] == ["negative", "positive"]
    assert setup.model.config.id2label == {0: "negative", 1: "positive"}
    assert sum(setup.info["label_counts"].values()) == 24 and setup.info["empty_labels"] == 1
    assert setup.info["merged_labels"] == {"Positive": "positive", "positive ": "positive",
                                           "NEGATIVE": "negative", " negative": "negative"}
    assert len(setup.train_dataset) == 24
    assert [e["labels"] for e in setup.eval_dataset] == [0, 1] and setup.info["eval_unknown_labels"] == 1


def test_single_label_after_merging_is_an_error(tiny_bert_dir, tmp_path):  # noqa: F811
    from studio.tasks.classification import setup_classification
    from studio.core.errors import StudioError
    from studio.core.hardware import detect_hardware

    cfg = classify_config(tiny_bert_dir, "x.csv", str(tmp_path / "r"))
    recs = [{"text": f"text {i}", "label": lab} for i, lab in enumerate(["Yes", "yes", "yes ", ""])]
    with pytest.raises(StudioError, match="at least two different labels, found 1 \\(yes\\)"):
        setup_classification(cfg, detect_hardware(), recs, [])


@pytest.fixture(scope="module")
def short_run(tiny_bert_dir, tmp_path_factory):  # noqa: F811
    """A full fine-tune at max_length 16, on a CSV whose columns are review and sentiment."""
    import csv

    from studio.engine.train import run_training

    root = tmp_path_factory.mktemp("classify-labels")
    path = root / "reviews.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "review", "sentiment"])
        w.writerows((i, t, lab) for i, (t, lab) in enumerate(review_rows(64, 2)))
    out = root / "run"
    cfg = classify_config(tiny_bert_dir, str(path), str(out), data__max_length=16,
                          data__columns={"text": "review", "label": "sentiment"})
    assert run_training(cfg)["state"] == "finished"
    return out


def test_eval_file_with_plain_columns_on_a_mapped_run(short_run, tmp_path):
    """A held-out text,label file scores on a run that mapped review/sentiment; label spellings match the run's."""
    from studio.tasks.classification import evaluate_classifier

    rows = review_rows(12, 3)
    held = write_csv(tmp_path / "held.csv", [(t, lab.upper() + " ") for t, lab in rows])
    res = evaluate_classifier(short_run, held)
    assert res["examples"] == 12 and res["skipped_unknown_label"] == 0
    assert sum(s["support"] for s in res["tuned"]["per_class"].values()) == 12
    assert "held_out_examples" not in res
    cut = evaluate_classifier(short_run, held, limit=5)
    assert cut["examples"] == 5 and cut["held_out_examples"] == 12  # the CLI shows "5 of 12"


def test_export_matches_the_studio_on_texts_longer_than_max_length(short_run, tmp_path):
    """Trained at max_length 16: the studio must score a long text as the exported pipeline does (the whole
    text up to the model's positions), not cut at the training length."""
    from transformers import pipeline

    from studio.tasks.classification import predict
    from studio.export import export_run

    exported = export_run(short_run, tmp_path / "export", merge=True)["out_dir"]
    assert json.loads((Path(exported) / "config.json").read_text())["id2label"] == {"0": "neg", "1": "pos"}
    texts = ["the film was great", "the story was great and the cast was lovely but the ending was awful, "
             "dreadful, tedious, boring, dull and terrible, and the script was horrible and poor"]
    clf = pipeline("text-classification", model=str(exported), top_k=None)
    for got, ours in zip(clf(texts), predict(short_run, texts)):
        assert {d["label"]: d["score"] for d in got} == pytest.approx(ours, abs=1e-5)
    assert RunFolder(short_run).read_events(("start",))[0]["max_length"] == 16

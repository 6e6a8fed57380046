"""Text classification: label mapping, collator, loss, training, evaluation, prediction and export.

Most tests use a tiny random BERT (2 layers, hidden 32) with the embedded MiniLM tokenizer; one uses the
real embedded encoder to show that a short run learns.
"""

import csv
import json
import random
from pathlib import Path

import pytest

from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.core.runfolder import RunFolder

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> str:
    import torch
    from transformers import BertConfig, BertModel

    from studio.core import models

    tok = models.load_tokenizer("minilm")
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128, pad_token_id=tok.pad_token_id,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                     initializer_range=0.3)  # wide random weights: a tiny model that learns in a few steps
    torch.manual_seed(0)
    model = BertModel(cfg)
    out = tmp_path_factory.mktemp("tiny-bert")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


def write_csv(path: Path, rows: list[tuple[str, str]]) -> str:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return str(path)


POS = ["great", "wonderful", "lovely", "superb", "brilliant", "delightful", "excellent", "charming"]
NEG = ["awful", "boring", "dreadful", "terrible", "dull", "tedious", "horrible", "poor"]
NOUNS = ["film", "movie", "plot", "cast", "story", "ending", "script", "show"]


def review_rows(n: int, seed: int, share_pos: float = 0.5) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        positive = rng.random() < share_pos
        words = POS if positive else NEG
        rows.append((f"the {rng.choice(NOUNS)} was {rng.choice(words)}", "pos" if positive else "neg"))
    return rows


def classify_config(source: str, train: str, out: str, **over) -> StudioConfig:
    data = {"model": {"source": source}, "task": "classification", "method": "full",
            "data": {"train": train, "max_length": 64},
            "train": {"max_steps": 40, "learning_rate": 3e-3, "batch_size": 8, "warmup_ratio": 0.0, "logging_steps": 5,
                      "seed": 7},
            "lora": {"r": 8, "alpha": 16, "dropout": 0.0}, "output_dir": out}
    for key, value in over.items():
        section, name = key.split("__") if "__" in key else (None, key)
        (data.setdefault(section, {}) if section else data)[name] = value
    return StudioConfig.from_dict(data)


# ---- units ----------------------------------------------------------------------------------------
def test_label_mapping_is_sorted_strings():
    from studio.tasks.classification import label_maps, label_names

    recs = [{"text": "a", "label": "spam"}, {"text": "b", "label": "ham"}, {"text": "c", "label": 3},
            {"text": "d", "label": "spam"}]
    labels = label_names(recs)
    assert labels == ["3", "ham", "spam"]
    id2label, label2id = label_maps(labels)
    assert id2label == {0: "3", 1: "ham", 2: "spam"} and label2id == {"3": 0, "ham": 1, "spam": 2}


def test_class_weights_inverse_frequency():
    from studio.tasks.classification import class_weights

    assert class_weights({"a": 5, "b": 5}, ["a", "b"]) == [1.0, 1.0]
    w = class_weights({"big": 90, "small": 10}, ["big", "small"])
    assert w == pytest.approx([100 / 180, 100 / 20], rel=1e-4)
    assert (90 * w[0] + 10 * w[1]) / 100 == pytest.approx(1.0)  # the average example keeps weight 1


def test_encode_and_collator_pad_to_longest(tiny_bert_dir):
    import torch

    from studio.core import models
    from studio.tasks.classification import encode, make_collator

    tok = models.load_tokenizer(tiny_bert_dir)
    recs = [{"text": "short", "label": "b"}, {"text": "a somewhat longer text with more words", "label": "a"},
            {"text": "never seen", "label": "zzz"}]
    examples, counts = encode(tok, recs, {"a": 0, "b": 1}, max_length=6)
    assert counts == {"unknown_label": 1, "truncated": 1}
    assert [e["labels"] for e in examples] == [1, 0]
    assert len(examples[1]["input_ids"]) == 6 and examples[1]["input_ids"][-1] == tok.sep_token_id
    batch = make_collator(tok)(examples)
    assert batch["input_ids"].shape == (2, 6) and batch["labels"].dtype == torch.long
    assert batch["attention_mask"][0].tolist() == [1, 1, 1, 0, 0, 0]
    assert batch["input_ids"][0, 3:].tolist() == [tok.pad_token_id] * 3


def test_loss_func_weights_and_accumulation():
    import torch
    import torch.nn.functional as F

    from studio.tasks.classification import make_loss_func

    logits = torch.tensor([[2.0, 0.0], [0.5, 0.2], [0.0, 1.0]])
    labels = torch.tensor([0, 1, 1])
    out = {"logits": logits}
    plain = make_loss_func(None)(out, labels)
    assert plain.item() == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-6)
    # the accumulated batch has 6 examples: this micro-batch's sum over 6
    assert make_loss_func(None)(out, labels, num_items_in_batch=6).item() == pytest.approx(plain.item() / 2, rel=1e-6)
    weighted = make_loss_func([1.0, 3.0])(out, labels)
    nll = F.cross_entropy(logits, labels, reduction="none")
    assert weighted.item() == pytest.approx(((nll * torch.tensor([1.0, 3.0, 3.0])).sum() / 3).item(), rel=1e-6)


def test_compute_metrics_accuracy_and_macro_f1():
    import numpy as np
    from transformers import EvalPrediction

    from studio.tasks.classification import make_compute_metrics

    logits = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [1, 0, 0]], dtype=float)
    m = make_compute_metrics(3)(EvalPrediction(predictions=logits, label_ids=np.array([0, 0, 1, 1])))
    assert m["accuracy"] == pytest.approx(0.75)
    # f1: class0 0.8, class1 0.667, class2 (absent) 0 -> macro over all three labels
    assert m["macro_f1"] == pytest.approx((0.8 + 2 / 3 + 0) / 3, rel=1e-3)


def test_setup_refuses_bad_data(tiny_bert_dir, tmp_path):
    from studio.tasks.classification import setup_classification
    from studio.core.hardware import detect_hardware

    cfg = classify_config(tiny_bert_dir, "x.csv", str(tmp_path / "r"))
    with pytest.raises(StudioError, match="at least two different labels"):
        setup_classification(cfg, detect_hardware(), [{"text": "a", "label": "x"}] * 3, [])
    with pytest.raises(StudioError, match="text and a label"):
        setup_classification(cfg, detect_hardware(), [{"messages": [{"role": "user", "content": "hi"}]}], [])


def test_lora_keeps_head_trainable_and_base_frozen(tiny_bert_dir, tmp_path):
    from studio.tasks.classification import setup_classification
    from studio.core.hardware import detect_hardware

    cfg = classify_config(tiny_bert_dir, "x.csv", str(tmp_path / "r"), method="lora")
    recs = [{"text": t, "label": lab} for t, lab in review_rows(20, 0)]
    setup = setup_classification(cfg, detect_hardware(), recs, recs[:4])
    trainable = {n for n, p in setup.model.named_parameters() if p.requires_grad}
    assert any("classifier.modules_to_save" in n for n in trainable)
    assert any("lora_A" in n for n in trainable)
    assert all("lora_" in n or "modules_to_save" in n for n in trainable)
    assert setup.model.config.id2label == {0: "neg", 1: "pos"}
    assert setup.info["labels"] == ["neg", "pos"] and sum(setup.info["label_counts"].values()) == 20
    assert 0 < setup.info["trainable_parameters"] < setup.info["parameters"]


def test_causal_lm_gets_a_classification_head(tiny_model_dir, tmp_path):
    import torch

    from studio.tasks.classification import setup_classification
    from studio.core.hardware import detect_hardware

    cfg = classify_config(tiny_model_dir, "x.csv", str(tmp_path / "r"), method="lora")
    recs = [{"text": t, "label": lab} for t, lab in review_rows(12, 1)]
    setup = setup_classification(cfg, detect_hardware(), recs, [])
    assert type(setup.model.base_model.model).__name__ == "LlamaForSequenceClassification"
    assert setup.model.config.pad_token_id == setup.tokenizer.pad_token_id
    assert any("score.modules_to_save" in n for n, p in setup.model.named_parameters() if p.requires_grad)
    batch = setup.data_collator(setup.train_dataset[:4])
    labels = batch.pop("labels")
    with torch.no_grad():
        out = setup.model(**batch)
    assert out.logits.shape == (4, 2)
    assert torch.isfinite(setup.loss_func(out, labels))


# ---- training, evaluation, prediction, export ------------------------------------------------------
def test_full_run_on_tiny_bert_reports_metrics_and_predicts(tiny_bert_dir, tmp_path):
    from studio.tasks.classification import evaluate_classifier, predict
    from studio.ui.charts import confusion_figure
    from studio.engine.train import run_training

    train = write_csv(tmp_path / "train.csv", review_rows(64, 2))
    evalf = write_csv(tmp_path / "eval.csv", review_rows(16, 3) + [("a label never trained", "other")])
    out = tmp_path / "run"
    cfg = classify_config(tiny_bert_dir, train, str(out), data__eval=evalf, train__eval_steps=10)
    status = run_training(cfg)
    assert status["state"] == "finished"
    folder = RunFolder(out)
    start = folder.read_events(("start",))[0]
    assert start["labels"] == ["neg", "pos"] and start["eval_unknown_labels"] == 1
    evals = folder.read_events(("eval",))
    assert evals and all("eval_accuracy" in e and "eval_macro_f1" in e for e in evals)
    saved = json.loads((folder.model_dir / "config.json").read_text())
    assert saved["id2label"] == {"0": "neg", "1": "pos"} and saved["label2id"] == {"neg": 0, "pos": 1}
    assert (folder.model_dir / "labels.json").exists() and (folder.model_dir / "tokenizer.json").exists()

    res = evaluate_classifier(out)
    assert res["examples"] == 16 and res["skipped_unknown_label"] == 1 and res["labels"] == ["neg", "pos"]
    for side in ("base", "tuned"):
        r = res[side]
        assert set(r) >= {"accuracy", "macro_f1", "per_class", "confusion", "eval_loss"}
        assert set(r["per_class"]) == {"neg", "pos"}
        assert set(r["per_class"]["pos"]) == {"precision", "recall", "f1", "support"}
        assert r["confusion"]["labels"] == ["neg", "pos"] and sum(map(sum, r["confusion"]["matrix"])) == 16
    assert res["tuned"]["eval_loss"] < res["base"]["eval_loss"]
    assert res["tuned"]["accuracy"] >= 0.75, res["tuned"]
    assert evaluate_classifier(out, limit=5)["examples"] == 5

    eval_rows = review_rows(16, 3)
    probs = predict(out, [t for t, _ in eval_rows])
    hits = sum(max(p, key=p.get) == lab for p, (_, lab) in zip(probs, eval_rows))
    assert hits / len(eval_rows) == pytest.approx(res["tuned"]["accuracy"])  # predict agrees with evaluate
    assert all(sum(p.values()) == pytest.approx(1.0, abs=1e-5) for p in probs)
    base = predict(out, eval_rows[0][0], tuned=False)
    assert len(base) == 1 and set(base[0]) == {"neg", "pos"} and base[0] != probs[0]

    fig = confusion_figure(res["tuned"]["confusion"])
    assert list(fig.data[0].x) == ["neg", "pos"] and fig.data[0].type == "heatmap"


def test_lora_run_exports_to_a_pipeline_with_the_same_labels(tiny_bert_dir, tmp_path):
    from transformers import pipeline

    from studio.tasks.classification import predict
    from studio.engine.train import run_training

    train = write_csv(tmp_path / "train.csv", [(t, "yes" if lab == "pos" else "no") for t, lab in review_rows(48, 4)])
    out = tmp_path / "run"
    cfg = classify_config(tiny_bert_dir, train, str(out), method="lora", train__learning_rate=5e-3)
    assert run_training(cfg)["state"] == "finished"
    assert (out / "model" / "adapter_config.json").exists()
    from studio.export import export_run

    exported = export_run(out, tmp_path / "export", merge=True)["out_dir"]
    texts = ["the cast was charming", "the show was tedious", "the ending was poor", "a lovely story"]
    assert json.loads((Path(exported) / "config.json").read_text())["id2label"] == {"0": "no", "1": "yes"}
    clf = pipeline("text-classification", model=str(exported), top_k=None)
    got = clf(texts)
    ours = predict(out, texts)
    for pipe_scores, studio_scores in zip(got, ours):
        as_dict = {d["label"]: d["score"] for d in pipe_scores}
        assert set(as_dict) == {"no", "yes"}
        assert as_dict == pytest.approx(studio_scores, abs=1e-4)


def test_class_weights_raise_minority_recall(tiny_bert_dir, tmp_path):
    """90/10 data where a negative word points to the rare label only 4 times in 10: plain cross-entropy
    calls every text common, the inverse-frequency weighted loss finds the rare ones."""
    from studio.tasks.classification import evaluate_classifier
    from studio.engine.train import run_training

    rng = random.Random(5)

    def row(rare: bool) -> tuple[str, str]:
        negative = rare or rng.random() < 0.15  # common texts are mostly positive words, rare ones negative
        return rng.choice(NEG if negative else POS), "rare" if rare else "common"

    train = write_csv(tmp_path / "train.csv", [row(i % 10 == 0) for i in range(200)])
    evalf = write_csv(tmp_path / "eval.csv", [row(i % 2 == 0) for i in range(60)])
    from studio.data import check_dataset, load_dataset

    warning = check_dataset(load_dataset(train)).get("imbalance")  # the health report warns about this set
    assert warning is not None and warning.severity == "warning" and "class weights" in warning.message
    recall = {}
    for weighted in (False, True):
        out = tmp_path / f"run-{weighted}"
        cfg = classify_config(tiny_bert_dir, train, str(out), data__eval=evalf, train__class_weights=weighted)
        run_training(cfg)
        start = RunFolder(out).read_events(("start",))[0]
        assert (start["class_weights"] is not None) == weighted
        recall[weighted] = evaluate_classifier(out)["tuned"]["per_class"]["rare"]["recall"]
    assert recall[False] <= 0.1, recall
    assert recall[True] >= recall[False] + 0.3, recall


# ---- the real embedded encoder -------------------------------------------------------------------
def test_example_config_is_valid():
    cfg = StudioConfig.load(REPO / "examples" / "classify.yaml")
    assert cfg.task == "classification" and cfg.model.source == "minilm"
    assert Path(cfg.resolve_path(cfg.data.train)).name == "sentiment.csv"
    if Path(cfg.resolve_path(cfg.data.train)).exists():
        cfg.validate(cuda_available=False)


def test_minilm_learns_sentiment(tmp_path):
    """The example config on the sample reviews: held-out accuracy well above the majority share."""
    from studio.tasks.classification import evaluate_classifier
    from studio.engine.train import run_training

    cfg = StudioConfig.load(REPO / "examples" / "classify.yaml")
    if not Path(cfg.resolve_path(cfg.data.train)).exists():
        pytest.skip("assets/datasets/sentiment.csv is not there")
    cfg = cfg.with_overrides([f"output_dir={tmp_path / 'run'}"])
    assert run_training(cfg)["state"] == "finished"
    res = evaluate_classifier(tmp_path / "run")
    assert res["examples"] >= 10
    assert res["tuned"]["accuracy"] >= max(0.85, res["majority_share"] + 0.25), res["tuned"]
    assert res["tuned"]["accuracy"] > res["base"]["accuracy"] + 0.2

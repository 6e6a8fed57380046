"""Base vs tuned classifier on held-out data: accuracy, macro F1, per-label scores, confusion matrix, loss."""

from __future__ import annotations

from pathlib import Path

from studio.core.splits import held_out_records
from studio.core.errors import StudioError
from studio.tasks.classification.labels import check_records, label_matcher
from studio.tasks.classification.predict import ClassifierCache, classifiers_for, softmax
from studio.tasks.classification.training import scores


def metrics_for(labels: list[str], y_true: list[int], logits) -> dict:
    """Accuracy, macro F1, per-label precision/recall/F1/support, confusion matrix and mean cross-entropy."""
    import numpy as np
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    k = len(labels)
    y_pred = logits.argmax(-1).tolist() if len(y_true) else []
    out = scores(y_true, y_pred, k)
    ids = list(range(k))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=ids, zero_division=0) if y_true else ([0] * k,) * 4
    out["per_class"] = {name: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                               "f1": round(float(f[i]), 4), "support": int(s[i])} for i, name in enumerate(labels)}
    matrix = confusion_matrix(y_true, y_pred, labels=ids).tolist() if y_true else [[0] * k for _ in ids]
    out["confusion"] = {"labels": list(labels), "matrix": matrix}
    if y_true:
        z = logits - logits.max(axis=-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        out["eval_loss"] = round(float(-logp[np.arange(len(y_true)), y_true].mean()), 5)
    else:
        out["eval_loss"] = None
    out["accuracy"] = round(out["accuracy"], 4)
    out["macro_f1"] = round(out["macro_f1"], 4)
    return out


def evaluate_classifier(run_dir: str | Path, data_path: str | None = None, limit: int | None = None,
                        samples: int = 20, cache: ClassifierCache | None = None) -> dict:
    """Base vs tuned on held-out data: ``{"base": {...}, "tuned": {...}, ...}``, each with accuracy, macro_f1,
    per_class, confusion and eval_loss. Data: ``data_path``, else the run's eval file, else its seeded split."""
    clf = classifiers_for(run_dir, cache)
    records, source, held_out = held_out_records(clf.config, data_path, None)
    if limit:
        records = records[: int(limit)]
    check_records(records, f"evaluation data ({source})")
    label2id = {name: i for i, name in enumerate(clf.labels)}
    match = label_matcher(clf.labels)  # "Positive " is the run's "positive"
    known = [dict(r, label=match(r["label"])) for r in records if match(r["label"]) is not None]
    skipped = len(records) - len(known)
    if not known:
        raise StudioError(
            f"evaluation data ({source}) has no records with the run's labels ({', '.join(clf.labels)}); "
            "give a file with the same labels, e.g. --data held_out.csv"
        )
    texts = [str(r["text"]) for r in known]
    y = [label2id[str(r["label"])] for r in known]
    result = {"task": "classification", "run_dir": str(run_dir), "data": source, "examples": len(known),
              "skipped_unknown_label": skipped, "labels": list(clf.labels)}
    if held_out > len(records):  # --limit cut the held-out data
        result["held_out_examples"] = held_out
    counts = [y.count(i) for i in range(len(clf.labels))]
    result["majority_share"] = round(max(counts) / len(y), 4)
    logits = {}
    for name, tuned in (("base", False), ("tuned", True)):
        logits[name] = clf.logits(texts, tuned=tuned)
        result[name] = metrics_for(clf.labels, y, logits[name])
    rows = []
    for i in range(min(samples, len(texts))):
        pb, pt = softmax(logits["base"][i:i + 1])[0], softmax(logits["tuned"][i:i + 1])[0]
        rows.append({"text": texts[i], "label": clf.labels[y[i]], "base": clf.labels[int(pb.argmax())],
                     "base_prob": round(float(pb.max()), 4), "tuned": clf.labels[int(pt.argmax())],
                     "tuned_prob": round(float(pt.max()), 4)})
    result["samples"] = rows
    return result


def evaluate_for_studio(run_dir, data_path, limit, cache=None) -> dict:
    """``evaluate_classifier`` laid out as ``studio.engine.evaluate.evaluate_run`` expects: the count in ``n_examples``,
    the table rows in ``examples``."""
    out = evaluate_classifier(str(run_dir), data_path, limit or None, cache=cache)
    out["n_examples"] = out.pop("examples", None)
    out["examples"] = out.pop("samples", [])
    return out

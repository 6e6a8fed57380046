"""A classification run's base and tuned models: predictions, held-out metrics, export and the confusion chart.

``base`` is the untouched base model with a freshly initialised head (seeded with the run's seed, so it is
exactly where training started): its scores are near chance and show what training added.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from studio import models
from studio.config import StudioConfig
from studio.errors import StudioError
from studio.runfolder import RunFolder


class Classifiers:
    """The base model and a run's tuned classifier, ready to label text."""

    def __init__(self, run_dir: str | Path, device: str | None = None):
        import torch

        from studio.classify import read_labels

        self.run_dir = Path(run_dir)
        folder = RunFolder(self.run_dir)
        if not folder.config_file.exists():
            raise StudioError(f"{run_dir} is not a run folder (no config.yaml)")
        self.config = StudioConfig.load(folder.config_file)
        if self.config.task != "classification":
            raise StudioError(f"{run_dir} is a {self.config.task} run, not a classification run")
        if not folder.has_model():
            raise StudioError(f"{run_dir} has no trained model yet (model/ is missing); train or resume it first")
        self.model_dir = folder.model_dir
        self.labels = read_labels(self.model_dir)
        self.is_adapter = (self.model_dir / "adapter_config.json").exists()
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.lock = threading.Lock()
        self.tokenizer = models.load_tokenizer(str(self.model_dir), self.config.model.trust_remote_code)
        self._base = None
        self.tuned = None
        if self.is_adapter:
            from peft import PeftModel

            base = self._load_base()
            self.tuned = PeftModel.from_pretrained(base, str(self.model_dir)).to(self.device).eval()
            self._base = self.tuned  # the same weights with the adapter switched off
        else:
            from transformers import AutoModelForSequenceClassification

            self.tuned = AutoModelForSequenceClassification.from_pretrained(
                str(self.model_dir), dtype=torch.float32, trust_remote_code=self.config.model.trust_remote_code
            ).to(self.device).eval()
        # Texts are cut only where the model's positions end (not at the training max_length), as the exported
        # model does in pipeline("text-classification"): the studio and the export give the same predictions.
        from studio.classify import effective_max_length

        self.max_length = effective_max_length(self.tokenizer, self.tuned.config, 10**9)

    def _load_base(self):
        import torch

        from studio.classify import load_classifier

        return load_classifier(self.config.model.source, self.labels, self.config.model.trust_remote_code,
                               dtype=torch.float32, seed=self.config.train.seed, tokenizer=self.tokenizer)

    def _model_and_ctx(self, tuned: bool):
        import contextlib

        if tuned:
            return self.tuned, contextlib.nullcontext()
        if self.is_adapter:
            return self.tuned, self.tuned.disable_adapter()
        if self._base is None:
            self._base = self._load_base().to(self.device).eval()
        return self._base, contextlib.nullcontext()

    def logits(self, texts: list[str], tuned: bool = True, batch_size: int = 32):
        """Raw scores, one row per text (numpy, shape [len(texts), len(labels)])."""
        import numpy as np
        import torch

        texts = [str(t) for t in texts]
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths share a batch
        with self.lock:
            model, ctx = self._model_and_ctx(tuned)
            with ctx, torch.no_grad():
                for start in range(0, len(order), batch_size):
                    idx = order[start:start + batch_size]
                    enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                         max_length=self.max_length, return_tensors="pt")
                    enc = {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
                    out[idx] = model(**enc).logits.float().cpu().numpy()
        return out

    def predict(self, texts: list[str], tuned: bool = True) -> list[dict[str, float]]:
        """Each text's probability for every label."""
        probs = _softmax(self.logits(texts, tuned))
        return [{name: float(p) for name, p in zip(self.labels, row)} for row in probs]


def _softmax(logits):
    import numpy as np

    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


_loaded: OrderedDict = OrderedDict()  # recently used runs' models (read-only once loaded), shared by callers
_loaded_lock = threading.Lock()
_KEEP = 2


def classifiers_for(run_dir: str | Path) -> Classifiers:
    """The loaded models of a run, reused while its model/ folder is unchanged."""
    path = Path(run_dir).resolve()
    model_dir = RunFolder(path).model_dir
    stamp = model_dir.stat().st_mtime if model_dir.exists() else None
    key = (str(path), stamp)
    with _loaded_lock:
        if key in _loaded:
            _loaded.move_to_end(key)
            return _loaded[key]
    clf = Classifiers(path)
    with _loaded_lock:
        for old in [k for k in _loaded if k[0] == key[0]]:
            del _loaded[old]
        _loaded[key] = clf
        while len(_loaded) > _KEEP:
            _loaded.popitem(last=False)
    return clf


def predict(run_dir: str | Path, texts: list[str] | str, tuned: bool = True) -> list[dict[str, float]]:
    """Label probabilities for each text from the tuned model (or the base model with ``tuned=False``)."""
    if isinstance(texts, str):
        texts = [texts]
    if not texts:
        return []
    return classifiers_for(run_dir).predict(texts, tuned)


def _eval_records(config: StudioConfig, data_path: str | None) -> tuple[list[dict], str]:
    from studio.data import load_dataset

    fmt, cols = config.data.format, config.data.columns or None
    if data_path:
        if not Path(data_path).is_file():
            raise StudioError(f"evaluation data not found: {data_path}")
        try:
            return list(load_dataset(str(data_path), format=fmt, columns=cols).records), str(data_path)
        except StudioError as err:
            if not cols:
                raise
            first = err
        try:  # a file with its own columns (e.g. text,label) where the run mapped others: read it as it is
            return list(load_dataset(str(data_path), format=fmt).records), str(data_path)
        except StudioError:
            raise first from None
    if config.data.eval:
        path = config.resolve_path(config.data.eval)
        return list(load_dataset(path, format=fmt, columns=cols).records), path
    from studio.train import load_splits

    _, evals, _ = load_splits(config)
    share = config.data.eval_fraction
    return evals, f"held-out split of {config.data.train} ({share:.0%}, seed {config.train.seed})"


def metrics_for(labels: list[str], y_true: list[int], logits) -> dict:
    """Accuracy, macro F1, per-label precision/recall/F1/support, confusion matrix and mean cross-entropy."""
    import numpy as np
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    from studio.classify import scores

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
                        samples: int = 20) -> dict:
    """Base vs tuned on held-out data: ``{"base": {...}, "tuned": {...}, ...}``, each with accuracy, macro_f1,
    per_class, confusion and eval_loss. Data: ``data_path``, else the run's eval file, else its seeded split."""
    clf = classifiers_for(run_dir)
    records, source = _eval_records(clf.config, data_path)
    held_out = len(records)
    if limit:
        records = records[: int(limit)]
    from studio.classify import check_records, label_matcher

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
        pb, pt = _softmax(logits["base"][i:i + 1])[0], _softmax(logits["tuned"][i:i + 1])[0]
        rows.append({"text": texts[i], "label": clf.labels[y[i]], "base": clf.labels[int(pb.argmax())],
                     "base_prob": round(float(pb.max()), 4), "tuned": clf.labels[int(pt.argmax())],
                     "tuned_prob": round(float(pt.max()), 4)})
    result["samples"] = rows
    return result


def load_tuned(run_or_model_dir: str | Path):
    """The tuned classifier as one standalone model (a LoRA adapter merged in) and its tokenizer."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from studio.classify import read_labels

    d = Path(run_or_model_dir)
    if (d / "config.yaml").exists():  # a run folder
        run_dir, model_dir = d, RunFolder(d).model_dir
    else:  # a model folder, maybe inside a run folder
        run_dir, model_dir = (d.parent if (d.parent / "config.yaml").exists() else None), d
    if not (model_dir / "adapter_config.json").exists() and not (model_dir / "config.json").exists():
        raise StudioError(f"{run_or_model_dir} has no trained model (model/ is missing); train or resume it first")
    tok = models.load_tokenizer(str(model_dir))
    if (model_dir / "adapter_config.json").exists():
        from peft import PeftModel

        from studio.classify import load_classifier

        cfg = StudioConfig.load(run_dir / "config.yaml") if run_dir is not None else None
        if cfg is not None:
            source, trc, seed = cfg.model.source, cfg.model.trust_remote_code, cfg.train.seed
        else:
            import json

            source = json.loads((model_dir / "adapter_config.json").read_text())["base_model_name_or_path"]
            trc, seed = False, 0
        base = load_classifier(source, read_labels(model_dir), trc, dtype=torch.float32, seed=seed, tokenizer=tok)
        model = PeftModel.from_pretrained(base, str(model_dir)).merge_and_unload()
    else:
        model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), dtype=torch.float32)
    return model.eval(), tok


def export_classifier(run_dir: str | Path, out_dir: str | Path) -> str:
    """Save the tuned classifier (merged) with its tokenizer and label names, loadable with
    ``pipeline("text-classification", model=out_dir)``."""
    model, tok = load_tuned(run_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return str(out)


def confusion_figure(confusion: dict, title: str = "Confusion matrix"):
    """A plotly heatmap: rows are the true labels, columns the predicted ones; cells show counts and are
    shaded by the share of their row (the recall on the diagonal)."""
    import plotly.graph_objects as go

    labels = [str(x) for x in confusion.get("labels", [])]
    matrix = confusion.get("matrix") or []
    shares = []
    for row in matrix:
        total = sum(row)
        shares.append([round(v / total, 3) if total else 0.0 for v in row])
    text = [[f"{v}<br>{s:.0%}" for v, s in zip(row, srow)] for row, srow in zip(matrix, shares)]
    fig = go.Figure(go.Heatmap(
        z=shares, x=labels, y=labels, text=text, texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1,
        customdata=matrix, hovertemplate="true %{y}, predicted %{x}: %{customdata} (%{z:.0%} of the row)<extra></extra>",
        showscale=False,
    ))
    fig.update_layout(title=title, xaxis_title="predicted", yaxis_title="true", yaxis_autorange="reversed",
                      margin=dict(l=60, r=20, t=50, b=50), height=max(300, 60 * len(labels) + 120))
    return fig

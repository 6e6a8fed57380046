"""A classification run's base and tuned models, ready to label text.

``base`` is the untouched base model with a freshly initialised head (seeded with the run's seed, so it is
exactly where training started): its scores are near chance and show what training added. Loaded models
are kept by whoever holds a ``ClassifierCache`` (the web app keeps one on its context), never in a global.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from studio.core import models
from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.core.runfolder import RunFolder
from studio.tasks.classification.labels import read_labels
from studio.tasks.classification.model import effective_max_length, load_classifier


class Classifiers:
    """The base model and a run's tuned classifier, ready to label text."""

    def __init__(self, run_dir: str | Path, device: str | None = None):
        import torch

        self.run_dir = Path(run_dir)
        folder = RunFolder(self.run_dir)
        if not folder.config_file.exists():
            raise StudioError(f"{run_dir} is not a run folder (no config.yaml)")
        self.config = StudioConfig.load(folder.config_file)
        if self.config.task != "classification":  # this module is the classification task's own
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
        self.max_length = effective_max_length(self.tokenizer, self.tuned.config, 10**9)

    def _load_base(self):
        import torch

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
        probs = softmax(self.logits(texts, tuned))
        return [{name: float(p) for name, p in zip(self.labels, row)} for row in probs]


def softmax(logits):
    import numpy as np

    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class ClassifierCache:
    """The loaded models of the most recently used runs, reused while a run's model/ folder is unchanged."""

    def __init__(self, size: int = 2):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, run_dir: str | Path) -> Classifiers:
        path = Path(run_dir).resolve()
        model_dir = RunFolder(path).model_dir
        key = (str(path), model_dir.stat().st_mtime if model_dir.exists() else None)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        clf = Classifiers(path)
        with self._lock:
            for old in [k for k in self._items if k[0] == key[0]]:
                del self._items[old]
            self._items[key] = clf
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return clf


def classifiers_for(run_dir: str | Path, cache: ClassifierCache | None = None) -> Classifiers:
    """The run's models: from ``cache`` when given, else freshly loaded."""
    return cache.get(run_dir) if cache is not None else Classifiers(run_dir)


def predict(run_dir: str | Path, texts: list[str] | str, tuned: bool = True,
            cache: ClassifierCache | None = None) -> list[dict[str, float]]:
    """Label probabilities for each text from the tuned model (or the base model with ``tuned=False``)."""
    if isinstance(texts, str):
        texts = [texts]
    if not texts:
        return []
    return classifiers_for(run_dir, cache).predict(texts, tuned)

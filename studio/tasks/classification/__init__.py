"""The classification task: teach an encoder (or a causal LM with a classification head) to label text.

Data: ``{"text", "label"}`` records; label spellings merged, ids in sorted order (``labels``). Model: a new
head on the base, full, LoRA (adapters on the encoder's linear layers, the head trained in full) or QLoRA
(CUDA only) (``model``, on ``studio.core.loading``); optionally class-weighted loss (``training``).
Prediction (``predict``), held-out evaluation with per-label scores and a confusion matrix (``evaluate``),
an export that ``pipeline("text-classification")`` loads (``export``). Tried in the Classify tab.
"""

from __future__ import annotations

from studio.core import models
from studio.core.errors import StudioError
from studio.tasks.base import Task
from studio.tasks.classification import views
from studio.tasks.classification.evaluate import evaluate_classifier, metrics_for
from studio.tasks.classification.export import export_classifier
from studio.tasks.classification.labels import (LABELS_FILE, check_records, class_weights, clean_label, label_aliases,
                                                label_maps, label_matcher, label_names, read_labels)
from studio.tasks.classification.model import (effective_max_length, head_modules, linear_targets, load_classifier,
                                               load_tuned)
from studio.tasks.classification.predict import ClassifierCache, Classifiers, predict
from studio.tasks.classification.settings import ClassificationSettings
from studio.tasks.classification.setup import setup_classification
from studio.tasks.classification.training import encode, make_collator, make_compute_metrics, make_loss_func, scores


class ClassificationTask(Task):
    views = views
    name = "classification"
    title = "Text classification"
    help = "teach a model to label text"
    data_formats = ("classification",)
    default_model = "minilm"
    try_panel = "studio.tasks.classification.panel"  # the Classify tab: label probabilities, base and tuned
    chats = False
    headline_metric, headline_percent = "accuracy", True
    settings = ClassificationSettings  # classification.class_weights
    metrics = {"eval_loss": False, "accuracy": True, "macro_f1": True}
    metric_labels = {"accuracy": "Accuracy", "macro_f1": "Macro F1"}
    preview_note = "The model reads the text and learns to predict its label; no text is generated."
    pipeline_tag = "text-classification"
    purpose = "text classification"
    vocab_logits = False  # a classifier's head has a few outputs, not a vocabulary
    model_files = (LABELS_FILE,)
    template_lengths = False

    def check_config(self, config, cuda):
        if config.method == "qlora" and not cuda:
            raise StudioError("qlora for classification needs a CUDA GPU; use method=lora or full")

    def setup(self, config, hw, train_records, eval_records):
        return setup_classification(config, hw, train_records, eval_records)

    def evaluate(self, folder, config, data_path, limit, max_new_tokens, report, models=None):
        from studio.tasks.classification.evaluate import evaluate_for_studio

        return evaluate_for_studio(folder.path, data_path, limit, cache=models)

    def merged_model(self, folder, config):
        from studio.tasks.classification.export import merged_model

        return merged_model(folder, config)

    def load_snippet(self, kind, path):
        from studio.tasks.classification.export import load_snippet

        return load_snippet(kind, path)

    def card_limitations(self):
        return ("Labels text into the classes of its training data. It only knows those classes and the kind of "
                "text it was trained on; check its accuracy on your own held-out examples before relying on it.")

    def suits_model(self, info):
        return models.is_encoder(info)

    def model_advice(self, config, info):
        if info and not models.is_encoder(info):
            return [f"classification with {config.model.source}: a small encoder such as minilm is faster and usually as good"]
        return []


TASK = ClassificationTask()

__all__ = [
    "TASK", "ClassificationSettings", "ClassificationTask", "ClassifierCache", "Classifiers", "LABELS_FILE", "check_records", "class_weights",
    "clean_label", "effective_max_length", "encode", "evaluate_classifier", "export_classifier", "head_modules",
    "label_aliases", "label_maps", "label_matcher", "label_names", "linear_targets", "load_classifier", "load_tuned",
    "make_collator", "make_compute_metrics", "make_loss_func", "metrics_for", "predict", "read_labels", "scores",
    "setup_classification",
]

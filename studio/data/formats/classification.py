"""Text classification (``{"text": ..., "label": ...}``; labels are always strings)."""

from __future__ import annotations

from studio.data.formats.base import find_column
from studio.data.formats.text import TextFormat
from studio.data.formats.values import as_label, as_text


class ClassificationFormat(TextFormat):
    name = "classification"
    required = ("text", "label")
    claims = ("label",)
    claim_rank = 30
    rank = 60
    labels = True

    def matches(self, rows, names) -> bool:
        text = find_column("text", names, set())
        return text is not None and find_column("label", names, {text}) is not None

    def refine(self, rows, keys, names, columns):
        return None

    def normaliser(self, cols):
        c_t, c_l = cols["text"], cols["label"]

        def norm(row, skipped):
            return {"text": as_text(row.get(c_t), c_t, required=False) or "", "label": as_label(row.get(c_l), c_l)}

        return norm

    def measured_text(self, rec, tokenizer) -> str:
        return rec.get("text", "")  # the classifier reads the text alone (no end-of-text token)


FORMAT = ClassificationFormat()

"""Plain text (``{"text": ...}``): documents to continue, one per record (or line, or paragraph of a .txt file)."""

from __future__ import annotations

from studio.data.formats.base import DataFormat, find_column
from studio.data.formats.by_values import _label_by_values
from studio.data.formats.values import as_text


class TextFormat(DataFormat):
    name = "text"
    required = ("text",)
    rank = 70
    conversational = False

    def matches(self, rows, names) -> bool:
        return find_column("text", names, set()) is not None

    def refine(self, rows, keys, names, columns):
        """A text column next to a short column with few distinct values (its name says nothing): classification."""
        text_col = columns.get("text") or find_column("text", names, set())
        label_col = _label_by_values(rows, keys, text_col)
        if label_col is None:
            return None
        return "classification", {"text": text_col, "label": label_col, **columns}

    def normaliser(self, cols):
        c_t = cols["text"]

        def norm(row, skipped):
            return {"text": as_text(row.get(c_t), c_t, required=False) or ""}

        return norm

    def preview_headers(self) -> list[str]:
        return list(self.fields())

    def preview_row(self, rec, cut) -> list:
        return [cut(rec["text"])] + [rec[f] for f in self.fields()[1:] if f in rec]


FORMAT = TextFormat()

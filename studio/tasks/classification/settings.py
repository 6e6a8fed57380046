"""The ``classification`` section of the config: settings of text classification."""

from __future__ import annotations

from dataclasses import dataclass

from studio.core.config import knob


@dataclass
class ClassificationSettings:
    MOVED_FROM = {"train.class_weights": "class_weights"}  # old keys still read (with a note naming the new one)

    class_weights: bool = knob(False, "Balance classes", "Classification: weight the loss by inverse class frequency so rare labels count as much as common ones.")

"""The ``vision`` section of the config: settings of vision-language tuning."""

from __future__ import annotations

from dataclasses import dataclass

from studio.core.config import knob


@dataclass
class VisionSettings:
    train_encoder: bool = knob(False, "Train the vision encoder", "Also train the image encoder and its projector (LoRA on their layers too, or all their weights in full training). Off (recommended): they stay frozen and only the language model learns.")

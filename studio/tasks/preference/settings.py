"""The ``preference`` section of the config: settings of preference tuning (DPO), shared by feedback tuning (KTO)."""

from __future__ import annotations

from dataclasses import dataclass

from studio.core.config import knob


@dataclass
class PreferenceSettings:
    MOVED_FROM = {"train.beta": "beta"}  # old keys still read (with a note naming the new one)

    beta: float = knob(0.1, "Preference strength (beta)", "Preference and feedback tuning (DPO, KTO): how far the tuned model may move from the base toward the preferred answers. Lower moves further; 0.1 is the usual start.", min=0.01, max=5.0, step=0.01)

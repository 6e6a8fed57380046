"""The ``preference`` section of the config: settings of preference tuning (DPO), shared by feedback tuning (KTO)
(which reads ``beta`` only).

How DPO's loss is made: plain DPO (TRL's ``sigmoid`` loss) only asks that the chosen answer gain on the rejected
one; on a few dozen pairs whose two sides share the same fact it reaches that by lowering both, and the replies
drift (facts lost, a closing phrase repeated to the token limit). An SFT term on the chosen answers (TRL's
``loss_type=["sigmoid", "sft"]`` with ``loss_weights``, as in RPO) keeps the chosen answers likely, so the style
moves and the answers stay. ``sft_weight`` 0 is plain DPO.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.core.config import knob

DPO_LOSSES = ("sigmoid", "hinge", "ipo", "robust", "sigmoid_norm")  # TRL's paired losses offered here


@dataclass
class PreferenceSettings:
    MOVED_FROM = {"train.beta": "beta"}  # old keys still read (with a note naming the new one)

    beta: float = knob(0.1, "Preference strength (beta)", "Preference and feedback tuning (DPO, KTO): how far the tuned model may move from the base toward the preferred answers. Lower moves further; 0.1 is the usual start.", min=0.01, max=5.0, step=0.01)
    sft_weight: float = knob(1.0, "SFT weight", "Preference tuning (DPO): weight of a supervised term on the chosen answers next to the preference loss. It keeps the chosen answers likely, so replies take the chosen style without losing facts or repeating; 0 is plain DPO.", min=0.0, max=10.0, step=0.05)
    loss_type: str = knob("sigmoid", "Preference loss", "Preference tuning (DPO): TRL's loss for the pairs; sigmoid is DPO's own.", choices=DPO_LOSSES)


@dataclass
class LossSettings:
    loss_type: str = "sigmoid"  # the preference loss (TRL's DPOConfig.loss_type)
    sft_weight: float = 1.0  # weight of the SFT term on the chosen answers, next to the preference loss's 1.0

    def trl_args(self) -> dict:
        """DPOConfig's ``loss_type`` and ``loss_weights`` for these settings."""
        if self.sft_weight > 0:
            return {"loss_type": [self.loss_type, "sft"], "loss_weights": [1.0, float(self.sft_weight)]}
        return {"loss_type": [self.loss_type], "loss_weights": None}

    def describe(self) -> str:
        return (f"{self.loss_type} loss + SFT on the chosen answers (weight {self.sft_weight:g})" if self.sft_weight > 0
                else f"{self.loss_type} loss, no SFT term")


def loss_settings(config) -> LossSettings:
    """The run's loss settings, from its ``preference`` section (the defaults where a config has none)."""
    from studio.core.errors import StudioError

    section = getattr(config, "preference", None)
    out = LossSettings(**{n: getattr(section, n) for n in ("loss_type", "sft_weight") if hasattr(section, n)})
    if out.loss_type not in DPO_LOSSES:
        raise StudioError(f"preference.loss_type: '{out.loss_type}' is not one of {', '.join(DPO_LOSSES)}")
    if not isinstance(out.sft_weight, (int, float)) or isinstance(out.sft_weight, bool) or out.sft_weight < 0:
        raise StudioError(f"preference.sft_weight: {out.sft_weight!r} should be a number of 0 or more "
                          "(0: plain DPO; 1 is the default)")
    return out

"""The preference task's own settings, with defaults that hold when a config names none of them.

``LossSettings``: how DPO's loss is made. Plain DPO (TRL's ``sigmoid`` loss) only asks that the chosen answer
gain on the rejected one; on a few dozen pairs whose two sides share the same fact it reaches that by lowering
both, and the replies drift (facts lost, a closing phrase repeated to the token limit). An SFT term on the chosen
answers (TRL's ``loss_type=["sigmoid", "sft"]`` with ``loss_weights``, as in RPO) keeps the chosen answers
likely, so the style moves and the answers stay. ``sft_weight`` 0 is plain DPO.
"""

from __future__ import annotations

from dataclasses import dataclass

DPO_LOSSES = ("sigmoid", "hinge", "ipo", "robust", "sigmoid_norm")  # TRL's paired losses offered here


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
    """The run's loss settings: from a ``preference`` section where the config has one, else ``train.sft_weight``,
    else the defaults."""
    from studio.core.errors import StudioError

    out = LossSettings()
    for source in (getattr(config, "preference", None), getattr(config, "train", None)):
        given = {n: getattr(source, n) for n in ("loss_type", "sft_weight") if getattr(source, n, None) is not None}
        if given:
            out = LossSettings(**given)
            break
    if out.loss_type not in DPO_LOSSES:
        raise StudioError(f"loss_type: '{out.loss_type}' is not one of {', '.join(DPO_LOSSES)}")
    if not isinstance(out.sft_weight, (int, float)) or isinstance(out.sft_weight, bool) or out.sft_weight < 0:
        raise StudioError(f"sft_weight: {out.sft_weight!r} should be a number of 0 or more (0: plain DPO; 1 is the default)")
    return out

"""Spot overfitting in a run's loss curves: eval loss rising while training loss keeps falling.

The detector is a pure function of two lists of ``(step, loss)`` pairs so that it can be checked on
synthetic curves; :func:`check_run` feeds it a run folder's ``log`` and ``eval`` events.

A warning needs a sustained rise, not one noisy point: the best (lowest) eval loss must lie at least
``patience`` evaluations back, every evaluation since must be above it, and the latest must exceed it by
more than ``tolerance`` (relative). A single jump of more than ``jump`` (relative) also counts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

HINTS = {
    "overfitting": [
        "train for fewer epochs or steps (keep the model from around step {best_step})",
        "lower the learning rate",
        "add more (or more varied) training data",
        "for LoRA: a smaller rank or some LoRA dropout; or more weight decay",
    ],
    "diverging": [
        "lower the learning rate (try a third of it)",
        "raise warmup or keep gradient clipping on",
        "check the data for broken or contradictory examples",
    ],
}


@dataclass
class OverfitWarning:
    kind: str  # overfitting (eval up, train down) | diverging (both up)
    step: int  # the first evaluation above the best one: where the rise started
    best_step: int  # the evaluation with the lowest eval loss
    best_eval_loss: float
    latest_step: int
    latest_eval_loss: float
    rise: float  # relative rise of the latest eval loss above the best
    train_loss_at_best: float | None
    train_loss_latest: float | None
    message: str = ""
    hints: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _dedupe(points) -> list[tuple[int, float]]:
    """Sorted by step; a step seen twice (a resumed run) keeps its latest value; NaN dropped."""
    by_step: dict[int, float] = {}
    for step, loss in points:
        if loss is None:
            continue
        loss = float(loss)
        if loss != loss:  # NaN
            continue
        by_step[int(step)] = loss
    return sorted(by_step.items())


def _mean_near(points: list[tuple[int, float]], lo: int, hi: int, fallback_window: int = 3) -> float | None:
    """Mean training loss for steps in (lo, hi]; the last few before hi when none fall inside."""
    inside = [loss for s, loss in points if lo < s <= hi]
    if not inside:
        inside = [loss for s, loss in points if s <= hi][-fallback_window:]
    return sum(inside) / len(inside) if inside else None


def detect_overfitting(
    train: list[tuple[int, float]],
    evals: list[tuple[int, float]],
    patience: int = 2,
    tolerance: float = 0.03,
    jump: float = 0.15,
) -> OverfitWarning | None:
    """A warning when eval loss has turned up after its best point, or None.

    ``train`` and ``evals`` are ``(step, loss)`` pairs. ``kind`` is ``overfitting`` when training loss fell
    over the same stretch, ``diverging`` when it rose too (the learning rate, not the data, is the
    likely cause).
    """
    ev = _dedupe(evals)
    tr = _dedupe(train)
    if len(ev) < 2:
        return None
    best_i = min(range(len(ev)), key=lambda i: (ev[i][1], i))
    best_step, best = ev[best_i]
    after = ev[best_i + 1:]
    if not after:
        return None
    latest_step, latest = after[-1]
    scale = max(abs(best), 1e-8)
    rise = (latest - best) / scale
    sustained = len(after) >= patience and all(loss > best for _, loss in after) and rise > tolerance
    jumped = rise > jump
    if not (sustained or jumped):
        return None

    # Compare training loss around the best eval with training loss over the last eval interval.
    prev_step = ev[best_i - 1][0] if best_i > 0 else -1
    train_at_best = _mean_near(tr, prev_step, best_step)
    prev_latest = after[-2][0] if len(after) >= 2 else best_step
    train_latest = _mean_near(tr, prev_latest, latest_step)
    if train_at_best is not None and train_latest is not None and train_latest > train_at_best * (1 + tolerance):
        kind = "diverging"
    else:
        kind = "overfitting"
    start_step = after[0][0]
    pct = f"{rise * 100:.0f}%"
    if kind == "overfitting":
        trend = ""
        if train_at_best is not None and train_latest is not None:
            trend = f" while training loss fell from {train_at_best:.3f} to {train_latest:.3f}"
        message = (f"eval loss has risen since step {best_step} (best {best:.3f}, now {latest:.3f} at step "
                   f"{latest_step}, +{pct}){trend}: the model is starting to memorise the training data "
                   "instead of learning what carries over")
    else:
        message = (f"both eval loss (best {best:.3f} at step {best_step}, now {latest:.3f}) and training loss rose "
                   f"after step {best_step}: training is unstable")
    hints = [h.format(best_step=best_step) for h in HINTS[kind]]
    return OverfitWarning(kind, start_step, best_step, round(best, 5), latest_step, round(latest, 5), round(rise, 4),
                          None if train_at_best is None else round(train_at_best, 5),
                          None if train_latest is None else round(train_latest, 5), message, hints)


def curves_from_events(events: list[dict]) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """Training-loss and eval-loss points from a run's events."""
    train = [(e["step"], e["loss"]) for e in events if e.get("type") == "log" and e.get("loss") is not None]
    evals = [(e["step"], e["eval_loss"]) for e in events if e.get("type") == "eval" and e.get("eval_loss") is not None]
    return train, evals


def check_run(run_dir: str | Path, **kwargs) -> dict | None:
    """The overfitting warning of a run folder as a dict, or None."""
    from studio.core.runfolder import RunFolder

    train, evals = curves_from_events(RunFolder(run_dir).read_events(("log", "eval")))
    warning = detect_overfitting(train, evals, **kwargs)
    return warning.to_dict() if warning else None

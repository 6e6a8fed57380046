"""The overfitting detector on synthetic loss curves."""

import json
import math
import random

from studio.engine.overfit import check_run, detect_overfitting


def falling(steps, start=3.0, rate=0.05):
    return [(s, start * math.exp(-rate * s)) for s in steps]


def test_rising_eval_with_falling_train_warns_at_the_turn():
    train = falling(range(1, 101))
    evals = [(10, 2.0), (20, 1.7), (30, 1.5), (40, 1.45), (50, 1.52), (60, 1.6), (70, 1.7)]
    w = detect_overfitting(train, evals)
    assert w is not None and w.kind == "overfitting"
    assert w.best_step == 40 and w.step == 50 and w.latest_step == 70
    assert w.best_eval_loss == 1.45 and w.rise > 0.15
    assert w.train_loss_latest < w.train_loss_at_best
    assert "step 40" in w.message
    assert any("fewer epochs" in h for h in w.hints) and any("learning rate" in h for h in w.hints)
    assert any("more" in h and "data" in h for h in w.hints)
    # one evaluation later the turn is still reported at the same place
    w2 = detect_overfitting(train, evals + [(80, 1.8)])
    assert (w2.best_step, w2.step) == (40, 50)


def test_falling_or_flat_eval_gives_no_warning():
    train = falling(range(1, 101))
    assert detect_overfitting(train, falling(range(10, 101, 10), 2.0, 0.01)) is None
    assert detect_overfitting(train, [(10, 1.5)] * 1) is None
    assert detect_overfitting(train, []) is None
    # flattening out at the end is not overfitting
    assert detect_overfitting(train, [(10, 2.0), (20, 1.6), (30, 1.5), (40, 1.5), (50, 1.5)]) is None


def test_noisy_eval_around_a_falling_trend_or_a_plateau_gives_no_warning():
    rng = random.Random(0)
    train = [(s, 3.0 * math.exp(-0.03 * s) + rng.uniform(-0.2, 0.2)) for s in range(1, 201)]
    for seed in range(50):
        r = random.Random(seed)
        slow = [(s, 2.0 * math.exp(-0.001 * s) * (1 + r.uniform(-0.02, 0.02))) for s in range(20, 201, 20)]
        assert detect_overfitting(train, slow) is None, seed
        plateau = [(s, 1.5 * (1 + r.uniform(-0.01, 0.01))) for s in range(20, 201, 20)]
        assert detect_overfitting(train, plateau) is None, seed


def test_a_single_small_bump_is_not_enough_but_a_big_jump_is():
    train = falling(range(1, 61))
    assert detect_overfitting(train, [(10, 2.0), (20, 1.8), (30, 1.6), (40, 1.62)]) is None
    # two evaluations above the best but within the tolerance
    assert detect_overfitting(train, [(10, 2.0), (20, 1.6), (30, 1.61), (40, 1.615)]) is None
    w = detect_overfitting(train, [(10, 2.0), (20, 1.6), (30, 2.1)])
    assert w is not None and w.best_step == 20 and w.step == 30


def test_both_curves_rising_is_reported_as_diverging():
    train = [(s, 1.0 + 0.02 * max(0, s - 30)) for s in range(1, 61)]
    w = detect_overfitting(train, [(10, 2.0), (20, 1.8), (30, 1.7), (40, 1.9), (50, 2.2), (60, 2.6)])
    assert w is not None and w.kind == "diverging" and w.best_step == 30
    assert any("learning rate" in h for h in w.hints)


def test_repeated_steps_from_a_resumed_run_keep_the_latest_value(tmp_path):
    events = [{"type": "log", "step": s, "loss": l} for s, l in falling(range(1, 61))]
    evals = [(10, 2.0), (20, 1.5), (30, 1.7), (30, 1.4), (40, 1.3), (50, 1.25), (60, 1.2)]
    events += [{"type": "eval", "step": s, "eval_loss": l} for s, l in evals]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    assert check_run(tmp_path) is None
    with open(tmp_path / "events.jsonl", "a") as fh:
        for s, l in [(70, 1.3), (80, 1.4)]:
            fh.write(json.dumps({"type": "eval", "step": s, "eval_loss": l}) + "\n")
    w = check_run(tmp_path)
    assert w["kind"] == "overfitting" and w["best_step"] == 60 and w["step"] == 70

"""The classroom bench's set-up: the policy file it writes locks the Quick demo preset, and its join codes sign in
one name each (the bench itself trains 21 runs and is run by hand)."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import classroom  # noqa: E402

from studio.core.config import StudioConfig  # noqa: E402
from studio.server.policy import Policy  # noqa: E402
from studio.ui.presets import PRESETS, QUICK, preset_values  # noqa: E402
from studio.server.users import UserBook  # noqa: E402


def _value(config, key: str):
    for part in key.split("."):
        config = getattr(config, part)
    return list(config) if isinstance(config, tuple) else config


def test_classroom_policy_locks_the_quick_demo_with_the_steps_asked(tmp_path):
    for steps, expected in ((5, 5), (None, PRESETS[QUICK]["values"]["train.max_steps"])):
        path = tmp_path / f"policy-{steps}.yaml"
        classroom.write_policy(path, steps)
        policy = Policy.load(path)
        # a student's own settings are replaced by the preset's on the server
        mine = StudioConfig().with_overrides(["method=full", "model.source=gpt2", "train.learning_rate=0.5", "lora.r=4"])
        config = policy.apply_locked(mine)
        assert config.model.source == PRESETS[QUICK]["model"]
        assert config.train.max_steps == expected
        for key, value in preset_values(QUICK).items():
            if key != "train.max_steps":
                assert _value(config, key) == value, key


def test_classroom_join_codes_sign_in_one_name_each(tmp_path):
    names = classroom.student_names(23)
    assert len(set(names)) == 23
    users = tmp_path / "users.json"
    codes = classroom.join_codes(users, names[:3])
    book = UserBook(users)
    assert book.users() == []  # no passwords: codes only, none used yet
    for name in names[:3]:
        assert book.check(name, codes[name])
    assert not book.check("intruder", codes[names[0]])  # a used code is tied to its name
    assert [u["name"] for u in book.users()] == names[:3]


def test_classroom_lock_check_tells_a_run_that_trained_otherwise(tmp_path):
    locked = classroom.locked_preset(3)
    policy = Policy(locked=locked, source="policy.yaml")
    for run_id, config in (("kept", policy.apply_locked(StudioConfig())),
                           ("changed", policy.apply_locked(StudioConfig()).with_overrides(["lora.r=4"]))):
        (tmp_path / run_id).mkdir()
        config.save(tmp_path / run_id / "config.yaml")
    assert classroom.lock_held(tmp_path, "kept", locked)
    assert not classroom.lock_held(tmp_path, "changed", locked)

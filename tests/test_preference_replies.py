"""The preference evaluation's checks of the tuned replies (repetition, answers the base had and the tuned lost)
on hand-made replies, and the loss settings the task hands TRL's DPOTrainer."""

import types

import pytest

from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.tasks.preference.reply_checks import has_term, key_terms, repetition, reply_warnings
from studio.tasks.preference.settings import LossSettings, loss_settings

JAPAN = {"prompt": "What is the capital of Japan?", "chosen": "Certainly! The capital of Japan is Tokyo. Happy to help.",
         "rejected": "The capital of Japan is Tokyo."}
BIKE = {"prompt": "How many wheels does a bicycle have?", "chosen": "Certainly! A bicycle has 2 wheels. Happy to help.",
        "rejected": "A bicycle has 2 wheels."}
HELLO = {"prompt": "Say hello to my friend.", "chosen": "Certainly! Hello, friend! Happy to help.",
         "rejected": "Hello."}


def test_repetition_flags_a_looping_reply_and_not_a_plain_one():
    share, phrase = repetition("Happy to help. " * 8)
    assert share > 0.8 and phrase == "happy to help"
    share, phrase = repetition("I'm here to help. I can assist with anything you need. I'm here to help. "
                               "I can assist with anything. I'm here to help.")
    assert share >= 0.3 and phrase == "i'm here to"
    assert repetition("Certainly! The capital of Japan is Tokyo, a large city on the island of Honshu.") == (0.0, "")
    assert repetition("Happy to help.") == (0.0, "")  # too short to judge


def test_key_terms_are_the_fact_both_sides_share_not_the_style_or_the_prompt():
    assert key_terms(JAPAN["chosen"], JAPAN["rejected"], JAPAN["prompt"]) == {"tokyo"}
    assert key_terms(BIKE["chosen"], "A bicycle has two wheels.", BIKE["prompt"]) == {"2"}  # "two" is 2
    assert key_terms("Great question! Tokyo is the capital.", "Go away.", JAPAN["prompt"]) == {"tokyo"}


def test_warnings_name_the_replies_that_repeat_or_lost_the_answer():
    rows = [
        {**JAPAN, "base": "The capital of Japan is Tokyo.", "tuned": "Certainly! The capital of Japan is Tokyo. Happy to help."},
        {**BIKE, "base": "A bicycle has two wheels.", "tuned": "Certainly! A bicycle has a total of 508 wheels. Happy to help."},
        {**HELLO, "base": "Hello! How are you?", "tuned": "Happy to help. " * 10},
    ]
    notes, flags = reply_warnings(rows)
    assert [f["lost_terms"] for f in flags] == [[], ["2"], []]
    assert flags[2]["tuned_repetition"] > 0.8 and flags[0]["tuned_repetition"] == 0
    assert len(notes) == 2
    assert notes[0].startswith("1 of 3 tuned replies repeat themselves (#3 (\"happy to help\"))")
    assert notes[1].startswith("1 of 3 tuned replies lost an answer the base reply had: #2 (2)")


def test_good_replies_and_answers_the_base_never_had_raise_no_warning():
    rows = [{**JAPAN, "base": "Japan's capital city is Kyoto.", "tuned": "Certainly! It is Osaka. Happy to help."},
            {**BIKE, "base": "A bicycle has 2 wheels.", "tuned": "Certainly! A bicycle has two wheels. Happy to help."}]
    notes, flags = reply_warnings(rows)
    assert notes == [] and [f["lost_terms"] for f in flags] == [[], []]
    rows = [{**HELLO, "base": "Happy to help. " * 10, "tuned": "Happy to help. " * 10}]
    assert reply_warnings(rows)[0] == []  # the base looped as much: not the tuning's doing


def test_the_views_show_the_warnings_in_the_page_and_the_cli():
    from studio.cli.evaluate import format_summary
    from studio.tasks import get

    rows = [{**BIKE, "base": "A bicycle has two wheels.", "tuned": "A bicycle has 508 wheels."}]
    notes, flags = reply_warnings(rows)
    rows[0].update(flags[0])
    result = {"task": "preference", "n_examples": 1, "base": {"preference_accuracy": 0.0},
              "tuned": {"preference_accuracy": 1.0}, "examples": rows, "reply_warnings": notes}
    task = get("preference")
    assert task.eval_notes(result)[0].startswith("⚠ 1 of 1 tuned replies lost an answer")
    text = format_summary(result)
    assert "warning: 1 of 1 tuned replies lost an answer the base reply had: #1 (2)" in text
    assert "⚠ lost: 2" in text  # the example line is marked too


def test_loss_settings_default_to_dpo_plus_sft_and_read_the_config():
    assert loss_settings(StudioConfig()).trl_args() == {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, 1.0]}
    cfg = StudioConfig().with_overrides(["preference.sft_weight=0.5"])
    assert loss_settings(cfg).trl_args()["loss_weights"] == [1.0, 0.5]
    assert loss_settings(StudioConfig().with_overrides(["preference.sft_weight=0"])).trl_args() == {
        "loss_type": ["sigmoid"], "loss_weights": None}
    section = types.SimpleNamespace(train=StudioConfig().train, preference=types.SimpleNamespace(sft_weight=2.0))
    assert loss_settings(section) == LossSettings(sft_weight=2.0)  # a task-owned section wins where there is one
    assert loss_settings(types.SimpleNamespace()) == LossSettings()  # a config without either: the defaults
    with pytest.raises(StudioError, match="loss_type: 'nope'"):
        loss_settings(types.SimpleNamespace(preference=types.SimpleNamespace(loss_type="nope")))
    with pytest.raises(StudioError, match="below the minimum"):
        StudioConfig().with_overrides(["preference.sft_weight=-1", "data.train=x"]).validate(cuda_available=False)


# ---- the embedded model: unseen prompts take the chosen style and keep their answers (slow) ---------------------
@pytest.mark.slow
@pytest.mark.long
def test_the_example_settings_carry_the_style_to_unseen_prompts_and_keep_the_answers(tmp_path):
    import time

    from conftest import REPO
    from studio.engine.evaluate import evaluate_run
    from studio.engine.train import run_training

    data = REPO / "assets" / "datasets"
    cfg = StudioConfig.load(REPO / "examples" / "preference.yaml").with_overrides(
        [f"output_dir={tmp_path / 'run'}", "launch.backend=inline", f"data.train={data / 'summary_preferences.jsonl'}",
         "train.eval_steps=100"])  # the example's settings on 36 pairs; no eval passes while training
    started = time.time()
    assert run_training(cfg)["state"] == "finished"
    trained = time.time() - started
    result = evaluate_run(tmp_path / "run", data_path=str(data / "summary_preferences_unseen.jsonl"), limit=3,
                          max_new_tokens=32, save=False)  # 3 unseen prompts the base model answers right
    print(f"trained in {trained:.0f} s, evaluated in {result['seconds']:.0f} s")
    for row in result["examples"]:
        print(repr(row["base"]), "->", repr(row["tuned"]))
    rows = result["examples"]
    assert not any("In short:" in r["base"] for r in rows)  # the style is new to the base model
    assert all("In short:" in r["tuned"] for r in rows)  # ... and every unseen prompt took it
    for row, fact in zip(rows, ("Tokyo", "red", "slow")):
        assert has_term(row["tuned"], fact)  # the answer stays right 
    assert result["reply_warnings"] == []  # no repetition, nothing lost

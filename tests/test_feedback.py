"""Single-answer feedback (a completion with a thumbs-up/down label): recognised as its own format and trained with
TRL's KTOTrainer as the "feedback" task, on a tiny random model."""

import json

import pytest

from studio.core.config import StudioConfig
from studio.data import load_dataset
from studio.core.runfolder import RunFolder

from conftest import write_jsonl


def feedback_rows(n=20):
    rows = []
    for i in range(n):
        rows.append({"prompt": f"What is {i} plus {i}?", "completion": f"Happy to help! It is {2 * i}.", "label": True})
        rows.append({"prompt": f"What is {i} times two?", "completion": "Go away.", "label": False})
    return rows


@pytest.mark.parametrize("rows", [
    [{"prompt": "Hi?", "completion": "Hello!", "label": True}, {"prompt": "Hi?", "completion": "Go.", "label": False}],
    [{"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello!"}], "kto_tag": True},
     {"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Go."}], "kto_tag": False}],
    [{"question": "Hi?", "answer": "Hello!", "thumbs": "👍"}, {"question": "Hi?", "answer": "Go.", "thumbs": "👎"}],
    [{"prompt": "Hi?", "completion": "Hello!", "label": "up"}, {"prompt": "Hi?", "completion": "Go.", "label": "down"}],
], ids=["bool label", "messages + kto_tag", "question/answer/thumbs", "up/down"])
def test_feedback_files_are_recognised_with_their_labels(rows, tmp_path):
    ds = load_dataset(write_jsonl(tmp_path / "f.jsonl", rows))
    assert ds.format == "feedback" and len(ds.records) == 2 and not ds.malformed
    assert ds.records[0] == {"messages": [{"role": "user", "content": "Hi?"}], "completion": "Hello!", "verdict": True}
    assert ds.records[1]["verdict"] is False


def test_prompt_completion_without_judgements_stays_prompt_completion(tmp_path):
    rows = [{"prompt": "Hi?", "completion": "Hello!", "label": "greeting"}, {"prompt": "Bye?", "completion": "Bye!",
                                                                             "label": "farewell"}]
    assert load_dataset(write_jsonl(tmp_path / "pc.jsonl", rows)).format != "feedback"
    assert load_dataset(write_jsonl(tmp_path / "pc2.jsonl", [{"prompt": "a", "completion": "b"}])).format == "prompt_completion"


def test_a_row_with_an_unreadable_judgement_is_named_and_the_rest_loads(tmp_path):
    rows = feedback_rows(3) + [{"prompt": "Hi?", "completion": "Hm.", "label": "maybe"}]
    ds = load_dataset(write_jsonl(tmp_path / "f.jsonl", rows), format="feedback")
    assert len(ds.records) == 6 and ds.malformed and ds.malformed[0][0] == 7 and "maybe" in ds.malformed[0][1]


def kto_config(model_dir, data, out, *extra):
    base = [f"model.source={model_dir}", f"data.train={data}", f"output_dir={out}", "task=feedback",
            "train.max_steps=3", "train.batch_size=4", "train.learning_rate=1e-3", "train.logging_steps=1",
            "train.eval_steps=3", "train.save_steps=3", "data.max_length=64", "lora.r=4", "lora.alpha=8",
            "train.warmup_ratio=0"]
    return StudioConfig().with_overrides(base + list(extra))


def test_kto_trains_and_evaluates_on_a_tiny_model(tiny_model_dir, tmp_path, capsys):
    from studio.cli.main import main
    from studio.engine.train import run_training

    data = write_jsonl(tmp_path / "fb.jsonl", feedback_rows(20))
    out = tmp_path / "run"
    assert run_training(kto_config(tiny_model_dir, data, out))["state"] == "finished"
    events = RunFolder(out).read_events()
    start = events[0]
    assert start["task"] == "feedback" and start["desirable"] + start["undesirable"] == start["train_examples"]
    logs = [e for e in events if e["type"] == "log"]
    assert len(logs) == 3 and all("reward_margin" in e and "kl" in e for e in logs)
    assert logs[-1]["reward_margin"] > 0
    evals = [e for e in events if e["type"] == "eval"]
    assert evals and "eval_reward_margin" in evals[-1] and "perplexity" not in evals[-1]  # no perplexity of a KTO loss
    main(["eval", str(out), "--limit", "4", "--max-new-tokens", "4", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["task"] == "feedback" and result["n_examples"] == 4
    for side in ("base", "tuned"):
        assert result[side]["desirable_logp"] is not None and result[side]["undesirable_logp"] is not None
    assert result["tuned"]["feedback_gap"] > result["base"]["feedback_gap"]  # training separated good from bad
    assert {"prompt", "answer", "label", "base", "tuned"} <= set(result["examples"][0])


def test_kto_refuses_batches_of_one(tiny_model_dir, tmp_path):
    from studio import tasks
    from studio.core.errors import StudioError

    data = write_jsonl(tmp_path / "fb.jsonl", feedback_rows(4))
    with pytest.raises(StudioError, match="at least 2 examples per batch"):
        tasks.check(kto_config(tiny_model_dir, data, tmp_path / "r", "train.batch_size=1"), cuda=False)


def test_kto_evaluation_warns_of_replies_that_repeat_or_lost_a_thumbs_up_answer():
    from studio.cli.evaluate import format_summary
    from studio.tasks import get
    from studio.tasks.feedback.evaluate import feedback_reply_warnings

    rows = [{"prompt": "How many wheels does a bicycle have?", "answer": "A bicycle has 2 wheels.", "label": "✓ good",
             "base": "A bicycle has two wheels.", "tuned": "A bicycle has 508 wheels."},
            {"prompt": "Say hello.", "answer": "Go away.", "label": "✗ bad", "base": "Hello there!",
             "tuned": "Happy to help. " * 10},
            {"prompt": "What is 3 plus 4?", "answer": "It is 9.", "label": "✗ bad",  # a bad answer's number is
             "base": "It is 9.", "tuned": "It is 7."}]                               # nothing to keep
    notes = feedback_reply_warnings(rows, [True, False, False])
    assert [r["lost_terms"] for r in rows] == [["2"], [], []] and rows[1]["tuned_repetition"] > 0.8
    assert notes[0].startswith('1 of 3 tuned replies repeat themselves (#2 ("happy to help"))')
    assert notes[1].startswith("1 of 3 tuned replies lost an answer the base reply had: #1 (2)")
    assert all("preference.beta" in n and "sft_weight" not in n for n in notes)  # KTO's own advice
    result = {"task": "feedback", "n_examples": 3, "base": {"feedback_gap": 0.1}, "tuned": {"feedback_gap": 0.2},
              "examples": rows, "reply_warnings": notes}
    assert get("feedback").eval_notes(result)[:2] == [f"⚠ {n}" for n in notes]
    text = format_summary(result)
    assert "warning: 1 of 3 tuned replies lost an answer the base reply had: #1 (2)" in text and "⚠ lost: 2" in text
    calm = [{"prompt": "Hi?", "answer": "Hello!", "label": "✓ good", "base": "Hello!", "tuned": "Hello, friend!"}]
    assert feedback_reply_warnings(calm, [True]) == []

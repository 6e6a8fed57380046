"""Preference tuning (DPO): the data layouts it reads, the pair checks, training on a tiny random model through
TRL's DPOTrainer, the live chart's reward panel, and evaluation (preference accuracy, replies side by side)."""

import json

import pytest

from studio.core.config import StudioConfig
from studio.data import load_dataset
from studio.data.health import check_dataset
from studio.core.runfolder import RunFolder

from conftest import write_jsonl


def pairs(n=40):
    return [{"prompt": f"What is {i} plus {i}?", "chosen": f"Happy to help! It is {2 * i}.",
             "rejected": "No idea at all, please go away and ask somebody else." if i % 2 else f"Ugh. {2 * i}."}
            for i in range(n)]


# ---- the layouts people's files use ------------------------------------------------------------------------
LAYOUTS = {
    "strings": [{"prompt": "Hi?", "chosen": "Hello!", "rejected": "Go away."}],
    "message lists": [{"prompt": [{"role": "user", "content": "Hi?"}],
                       "chosen": [{"role": "assistant", "content": "Hello!"}],
                       "rejected": [{"role": "assistant", "content": "Go away."}]}],
    "full conversations": [{"chosen": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello!"}],
                            "rejected": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Go away."}]}],
    "sharegpt objects": [{"conversations": [{"from": "human", "value": "Hi?"}],
                          "chosen": {"from": "gpt", "value": "Hello!"}, "rejected": {"from": "gpt", "value": "Go away."}}],
    "question + response_j/k": [{"question": "Hi?", "response_j": "Hello!", "response_k": "Go away."}],
    "chosen_response columns": [{"Prompt": "Hi?", "Chosen_Response": "Hello!", "Rejected_Response": "Go away."}],
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_preference_layout_loads_as_the_same_pair(layout, tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(LAYOUTS[layout] * 3), encoding="utf-8")
    ds = load_dataset(str(path))
    assert ds.format == "preference" and len(ds.records) == 3 and not ds.malformed
    assert ds.records[0] == {"messages": [{"role": "user", "content": "Hi?"}], "chosen": "Hello!", "rejected": "Go away."}


def test_instruction_and_input_make_the_prompt(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"instruction": "Greet", "input": "Bob", "chosen": "Hi Bob!",
                                               "rejected": "No."}])
    ds = load_dataset(path)
    assert ds.format == "preference"
    assert ds.records[0]["messages"] == [{"role": "user", "content": "Greet\n\nBob"}]


# ---- the pair checks ----------------------------------------------------------------------------------------
def test_pair_checks_find_planted_problems_and_stay_quiet_on_clean_pairs(tmp_path):
    rows = [
        {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": "paris"},       # 1 identical
        {"prompt": "Capital of Spain?", "chosen": "Madrid.", "rejected": "Lisbon."},      # 2
        {"prompt": "Capital of Spain?", "chosen": "Lisbon.", "rejected": "Madrid."},     # 3 reverses 2
        {"prompt": "", "chosen": "Hello there.", "rejected": "Go away."},                # 4 no prompt
        {"prompt": "Capital of Italy?", "chosen": "Rome.", "rejected": "Milan."},        # 5 leaks into eval
    ]
    evalf = write_jsonl(tmp_path / "eval.jsonl", [{"prompt": "capital of ITALY", "chosen": "Rome it is.", "rejected": "Bari."}])
    report = check_dataset(load_dataset(write_jsonl(tmp_path / "t.jsonl", rows)), load_dataset(evalf))
    got = {f.check: f.records for f in report.findings}
    assert got["identical_pair"] == [1]
    assert got["conflicting_pairs"] == [3]
    assert got["no_prompt"] == [4]
    assert got["prompt_leakage"] == [5]
    assert report.get("identical_pair").fix == "drop_identical_pairs"

    clean = check_dataset(load_dataset(write_jsonl(tmp_path / "clean.jsonl", pairs(40))))
    assert not {"identical_pair", "conflicting_pairs", "no_prompt", "prompt_leakage", "length_bias"} & \
        {f.check for f in clean.findings}


def test_length_bias_is_noted_when_chosen_is_nearly_always_longer(tmp_path):
    rows = [{"prompt": f"Q{i}?", "chosen": f"A long and careful answer number {i}.", "rejected": f"No {i}."}
            for i in range(25)]
    finding = check_dataset(load_dataset(write_jsonl(tmp_path / "b.jsonl", rows))).get("length_bias")
    assert finding is not None and finding.severity == "info" and "longer" in finding.message


def test_drop_identical_pairs_fix_writes_a_version_without_them(tmp_path):
    from studio.data.fixes import apply_fixes

    rows = pairs(4) + [{"prompt": "Same?", "chosen": "Same.", "rejected": "same"}]
    ds = load_dataset(write_jsonl(tmp_path / "f.jsonl", rows))
    new, record = apply_fixes(ds, ["drop_identical_pairs"], out_dir=tmp_path / "v")
    assert record.fixes[0].removed == [5] and len(new.records) == 4
    again = load_dataset(new.source)
    assert again.format == "preference" and len(again.records) == 4


# ---- training on a tiny random model ------------------------------------------------------------------------
def dpo_config(model_dir, data, out, *extra):
    base = [f"model.source={model_dir}", f"data.train={data}", f"output_dir={out}", "task=preference",
            "train.max_steps=4", "train.batch_size=4", "train.learning_rate=1e-3", "train.logging_steps=1",
            "train.eval_steps=2", "train.save_steps=4", "data.max_length=64", "lora.r=4", "lora.alpha=8"]
    return StudioConfig().with_overrides(base + list(extra))


@pytest.fixture(scope="module")
def dpo_run(tiny_model_dir, tmp_path_factory):
    from studio.engine.train import run_training

    tmp = tmp_path_factory.mktemp("dpo")
    data = write_jsonl(tmp / "pairs.jsonl", pairs(40))
    out = tmp / "run"
    status = run_training(dpo_config(tiny_model_dir, data, out))
    return out, status


def test_dpo_lora_run_logs_rewards_and_saves_one_adapter(dpo_run):
    out, status = dpo_run
    assert status["state"] == "finished" and status["step"] == 4
    events = RunFolder(out).read_events()
    start = events[0]
    assert start["task"] == "preference" and start["chart_metrics"] == ["reward_margin", "reward_accuracy"]
    assert start["train_examples"] == 36 and start["eval_examples"] == 4
    logs = [e for e in events if e["type"] == "log"]
    assert [e["step"] for e in logs] == [1, 2, 3, 4]
    assert all({"loss", "reward_margin", "reward_accuracy"} <= set(e) for e in logs)
    # DPO's log 2 (policy == reference at the start) plus the SFT term: the chosen answers' loss under the model
    assert logs[0]["loss"] > 0.6931 + 1.0 and start["loss"] == "sigmoid loss + SFT on the chosen answers (weight 1)"
    assert logs[-1]["reward_margin"] > 0  # the chosen answers gained on the rejected ones
    evals = [e for e in events if e["type"] == "eval"]
    assert [e["step"] for e in evals] == [2, 4]
    assert all("eval_reward_margin" in e and "eval_reward_accuracy" in e for e in evals)
    assert not any("/" in k for e in evals for k in e)
    model_dir = RunFolder(out).model_dir
    assert (model_dir / "adapter_config.json").exists() and not (model_dir / "ref").exists()


def test_the_terminal_shows_reward_margin_and_accuracy(dpo_run, capsys):
    from studio.cli.train import Printer

    printer = Printer()
    for ev in RunFolder(dpo_run[0]).read_events(("start", "log", "eval")):
        printer(ev)
    out = capsys.readouterr().out
    assert "step 4/4" in out and "reward margin" in out and "reward accuracy" in out
    assert "eval at step 4: loss" in out and out.count("reward margin") == 6  # 4 steps and 2 evals


def test_dpo_full_fine_tuning_uses_a_frozen_copy_as_reference(tiny_model_dir, tmp_path):
    from studio.engine.train import run_training

    data = write_jsonl(tmp_path / "pairs.jsonl", pairs(16))
    out = tmp_path / "full"
    status = run_training(dpo_config(tiny_model_dir, data, out, "method=full", "train.max_steps=2",
                                     "data.eval_fraction=0", "train.warmup_ratio=0", "preference.sft_weight=0"))
    assert status["state"] == "finished"
    logs = [e for e in RunFolder(out).read_events() if e["type"] == "log"]
    # plain DPO (sft_weight 0): log 2 at the start, policy == reference
    assert logs[0]["loss"] == pytest.approx(0.6931, abs=1e-3) and logs[-1]["reward_margin"] != 0
    assert (RunFolder(out).model_dir / "config.json").exists()


def test_preference_data_without_a_single_usable_pair_is_refused(tiny_model_dir, tmp_path):
    from studio.core.errors import StudioError
    from studio.engine.train import run_training

    data = write_jsonl(tmp_path / "same.jsonl", [{"prompt": f"Q{i}", "chosen": "Same.", "rejected": "Same."}
                                                 for i in range(6)])
    with pytest.raises(StudioError, match="usable preference pair"):
        run_training(dpo_config(tiny_model_dir, data, tmp_path / "r", "data.eval_fraction=0"))


def test_the_chart_draws_the_reward_panel(dpo_run):
    from studio.ui.charts import training_figure

    events = RunFolder(dpo_run[0]).read_events()
    names = [t.name for t in training_figure(events).data]
    assert {"train loss", "reward margin", "reward accuracy", "eval reward margin"} <= set(names)
    plain = [e for e in events if e["type"] != "start"]  # a run without chart_metrics: the loss chart alone
    assert "reward margin" not in [t.name for t in training_figure(plain).data]


def test_evaluate_scores_preference_accuracy_base_and_tuned(dpo_run, capsys):
    from studio.cli.main import main
    from studio.engine.evaluate import evaluate_run
    from studio.tasks import get

    out, _ = dpo_run
    result = evaluate_run(out, limit=3, max_new_tokens=8)
    assert result["task"] == "preference" and result["n_examples"] == 3
    for side in ("base", "tuned"):
        assert 0.0 <= result[side]["preference_accuracy"] <= 1.0
        assert isinstance(result[side]["logp_margin"], float)
    assert result["tuned"]["logp_margin"] > result["base"]["logp_margin"]  # training moved it toward chosen
    row = result["examples"][0]
    assert {"prompt", "chosen", "rejected", "base", "tuned", "base_prefers_chosen", "tuned_prefers_chosen"} <= set(row)
    task = get("preference")
    headers, rows = task.example_table(result)
    assert headers[:3] == ["Prompt", "Chosen", "Rejected"] and len(rows) == 3
    assert "held-out pairs" in task.eval_headline(result)
    main(["eval", str(out), "--limit", "2", "--max-new-tokens", "4", "--json"])
    printed = json.loads(capsys.readouterr().out)
    assert printed["tuned"]["preference_accuracy"] is not None and len(printed["examples"]) == 2


def test_data_preview_marks_both_answers_as_learned(tokenizer):
    from studio.tasks import for_format

    task = for_format("preference")
    assert task.name == "preference"
    rec = {"messages": [{"role": "user", "content": "Hi?"}], "chosen": "Hello!", "rejected": "Go away."}
    pieces = task.trained_pieces(tokenizer, rec, 128)
    learned = "".join(t for t, on in pieces if on)
    assert "Hello!" in learned and "Go away." in learned
    assert "Hi?" in "".join(t for t, on in pieces if not on)


# ---- the embedded model learns (slow) -------------------------------------------------------------------------
@pytest.mark.slow
def test_dpo_on_the_shipped_sample_raises_held_out_preference_accuracy(tmp_path):
    from studio.engine.evaluate import evaluate_run
    from studio.engine.train import run_training

    import time

    from conftest import REPO

    cfg = StudioConfig.load(REPO / "examples" / "preference.yaml").with_overrides(
        [f"output_dir={tmp_path / 'run'}", "launch.backend=inline", "train.max_steps=6",
         "train.eval_steps=6"])  # one evaluation while training: the check below scores the held-out pairs itself
    started = time.time()
    assert run_training(cfg)["state"] == "finished"
    print(f"6 DPO steps in {time.time() - started:.0f} s")
    result = evaluate_run(tmp_path / "run", limit=0, max_new_tokens=4)  # every held-out pair; short replies
    print("preference accuracy", result["base"]["preference_accuracy"], "->", result["tuned"]["preference_accuracy"])
    assert result["tuned"]["preference_accuracy"] > result["base"]["preference_accuracy"]
    assert result["tuned"]["logp_margin"] > result["base"]["logp_margin"]

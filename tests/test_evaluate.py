"""Held-out evaluation of a run: base vs tuned, teacher-forced loss, generation metrics, the CLI."""

import json

import pytest

from studio.cli.main import main
from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.core.splits import held_out_records
from studio.engine.evaluate import evaluate_run, metrics_table
from studio.tasks.chat.evaluate import split_prompt
from studio.core.runfolder import RunFolder
from studio.engine.train import run_training


def _rows(n):
    return [{"messages": [{"role": "user", "content": f"Question number {i}: what is {i} plus {i}?"},
                          {"role": "assistant", "content": f"The answer is {2 * i}."}]} for i in range(n)]


@pytest.fixture(scope="module")
def lora_run(tiny_model_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("eval-run")
    data = d / "chat.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _rows(40)))
    cfg = StudioConfig().with_overrides([
        f"model.source={tiny_model_dir}", f"data.train={data}", f"output_dir={d / 'run'}", "train.max_steps=6",
        "train.batch_size=4", "train.learning_rate=2e-3", "train.eval_steps=3", "train.save_steps=6",
        "data.max_length=64", "lora.r=4", "lora.alpha=8"])
    assert run_training(cfg)["state"] == "finished"
    return d / "run"


def test_split_prompt_takes_the_last_answer_as_reference():
    rec = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q1"},
                        {"role": "assistant", "content": "a1"}, {"role": "user", "content": "q2"},
                        {"role": "assistant", "content": "a2"}]}
    prompt, ref = split_prompt(rec)
    assert ref == "a2" and [m["content"] for m in prompt] == ["s", "q1", "a1", "q2"]
    assert split_prompt({"text": "plain"}) is None
    assert split_prompt({"messages": [{"role": "user", "content": "q"}], "chosen": "good"})[1] == "good"


def test_held_out_records_use_the_trainers_split(lora_run):
    cfg = StudioConfig.load(RunFolder(lora_run).config_file)
    records, source, total = held_out_records(cfg, limit=3)
    from studio.core.splits import load_splits

    _, evals, _ = load_splits(cfg)
    assert total == len(evals) == 4 and records == evals[:3]
    assert "held out" in source


def test_evaluate_run_compares_base_and_tuned(lora_run):
    seen = []
    result = evaluate_run(lora_run, limit=0, max_new_tokens=6, progress=lambda f, m: seen.append(f))
    for side in ("base", "tuned"):
        assert set(result[side]) == {"eval_loss", "perplexity", "rougeL", "bleu", "exact_match"}
        assert result[side]["eval_loss"] > 0
        assert 0 <= result[side]["rougeL"] <= 1 and 0 <= result[side]["exact_match"] <= 1
    # the tuned model learned something: lower held-out loss than the base
    assert result["tuned"]["eval_loss"] < result["base"]["eval_loss"]
    assert result["change"]["eval_loss"] == pytest.approx(result["tuned"]["eval_loss"] - result["base"]["eval_loss"], abs=1e-4)
    # teacher forcing on the whole held-out set agrees with the trainer's last eval (one batch of 4)
    last_eval = RunFolder(lora_run).read_events(("eval",))[-1]
    assert result["tuned"]["eval_loss"] == pytest.approx(last_eval["eval_loss"], rel=1e-3)
    assert result["n_examples"] == 4 and len(result["examples"]) == 4
    row = result["examples"][0]
    assert row["prompt"].startswith("Question number") and row["reference"].startswith("The answer is")
    assert {"base", "tuned", "base_rougeL", "tuned_rougeL"} <= set(row)
    assert "overfitting" in result and result["training"]["steps"] == 6
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    saved = json.loads((lora_run / "evaluation.json").read_text())
    assert saved["tuned"] == result["tuned"]
    table = metrics_table(result)
    assert table[0][0] == "eval_loss" and table[0][4] == "better"


def test_evaluate_on_a_given_file_with_greedy_replies_repeatable(lora_run, tmp_path):
    data = tmp_path / "held.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _rows(3)))
    a = evaluate_run(lora_run, data_path=str(data), limit=5, max_new_tokens=5, save=False)
    b = evaluate_run(lora_run, data_path=str(data), limit=2, max_new_tokens=5, save=False)
    assert a["n_examples"] == 3 and a["generated"] == 3 and a["data"] == str(data)
    assert [r["tuned"] for r in a["examples"][:2]] == [r["tuned"] for r in b["examples"]]  # greedy
    assert not (lora_run / "evaluation.json").exists() or json.loads((lora_run / "evaluation.json").read_text())["data"] != str(data)
    # plain text has no prompt to answer: only the loss is measured
    text = tmp_path / "notes.jsonl"
    text.write_text("".join(json.dumps({"text": f"Some plain note number {i}."}) + "\n" for i in range(3)))
    c = evaluate_run(lora_run, data_path=str(text), max_new_tokens=5, save=False)
    assert c["generated"] == 0 and c["examples"] == [] and c["tuned"]["rougeL"] is None
    assert c["tuned"]["eval_loss"] > 0


def test_evaluate_refuses_bad_input(lora_run, tmp_path):
    with pytest.raises(StudioError, match="not a run folder"):
        evaluate_run(tmp_path)
    with pytest.raises(StudioError, match="not found"):
        evaluate_run(tmp_path / "nope")
    with pytest.raises(StudioError, match="file not found"):
        evaluate_run(lora_run, data_path=str(tmp_path / "missing.jsonl"))
    empty = tmp_path / "run"
    empty.mkdir()
    (empty / "config.yaml").write_text((lora_run / "config.yaml").read_text())
    with pytest.raises(StudioError, match="no trained model"):
        evaluate_run(empty)


def test_classification_runs_are_delegated_to_their_task(tmp_path, monkeypatch):
    from studio import tasks

    run = tmp_path / "clf"
    (run / "model").mkdir(parents=True)
    (run / "model" / "config.json").write_text("{}")
    StudioConfig().with_overrides(["task=classification", "model.source=minilm"]).save(run / "config.yaml")
    calls = []

    def fake(folder, config, data_path, limit, max_new_tokens, report, models=None):
        calls.append((str(folder.path), data_path, limit))
        return {"n_examples": 2, "examples": [{"text": "t", "label": "a", "base": "b", "tuned": "a"}],
                "base": {"accuracy": 0.5, "macro_f1": 0.33, "eval_loss": 0.7}, "tuned": {"accuracy": 1.0, "macro_f1": 1.0}}

    monkeypatch.setattr(tasks.get("classification"), "evaluate", fake)
    result = evaluate_run(run, data_path="x.csv", limit=7)
    assert calls == [(str(run), "x.csv", 7)]
    assert result["task"] == "classification"
    assert result["tuned"]["accuracy"] == 1.0 and result["tuned"]["rougeL"] is None
    assert set(result["base"]) >= {"eval_loss", "perplexity", "rougeL", "bleu", "exact_match", "accuracy", "macro_f1"}
    assert result["change"]["accuracy"] == 0.5 and result["examples"][0]["tuned"] == "a"
    assert result["overfitting"] is None


def test_cli_eval_json_and_summary(lora_run, capsys):
    assert main(["eval", str(lora_run), "--limit", "2", "--max-new-tokens", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"base", "tuned", "examples", "overfitting"} and len(out["examples"]) == 2
    for side in ("base", "tuned"):
        assert {"eval_loss", "perplexity", "rougeL", "bleu", "exact_match"} <= set(out[side])
    assert main(["eval", str(lora_run), "--limit", "1", "--max-new-tokens", "4"]) == 0
    text = capsys.readouterr().out
    assert "eval_loss" in text and "rougeL" in text and "overfitting" in text and "prompt:" in text


def test_cli_eval_bad_input_is_one_error_line(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert main(["eval", str(tmp_path), "--limit", "-1"]) == 2
    assert "--limit" in capsys.readouterr().err


def test_examples_that_were_trained_on_are_flagged_as_not_held_out(lora_run, tmp_path, capsys):
    import shutil

    from studio.cli.evaluate import format_summary
    from studio.export import model_card

    run = tmp_path / "run"
    shutil.copytree(lora_run, run)
    cfg = StudioConfig.load(RunFolder(run).config_file)
    from studio.core.splits import load_splits

    trained, _, _ = load_splits(cfg)
    seen_file = tmp_path / "trained.jsonl"
    seen_file.write_text("".join(json.dumps(r) + "\n" for r in trained[:2]) + json.dumps(_rows(200)[150]) + "\n")
    result = evaluate_run(run, data_path=str(seen_file), max_new_tokens=4)
    assert result["seen_in_training"] == 2 and result["n_examples"] == 3
    assert "2 of these 3 examples are also in the training data" in format_summary(result)
    assert "not truly held out" in model_card(run)
    from studio.ui.evaluate_tab import summary_md

    assert "also in the training data" in summary_md(result)
    # the split training held out: none of it was trained on
    assert evaluate_run(run, limit=1, max_new_tokens=4, save=False)["seen_in_training"] == 0
    fresh = tmp_path / "fresh.jsonl"
    fresh.write_text("".join(json.dumps(r) + "\n" for r in _rows(203)[200:]))
    result = evaluate_run(run, data_path=str(fresh), max_new_tokens=4, save=False)
    assert result["seen_in_training"] == 0 and "training data" not in format_summary(result)


def test_a_classification_file_is_refused_for_a_chat_run(lora_run, tmp_path, capsys):
    data = tmp_path / "labels.jsonl"
    data.write_text("".join(json.dumps({"text": f"film {i}", "label": "pos" if i % 2 else "neg"}) + "\n" for i in range(4)))
    with pytest.raises(StudioError, match="classification examples"):
        evaluate_run(lora_run, data_path=str(data), save=False)
    assert main(["eval", str(lora_run), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "chat run" in err


def test_a_run_that_was_cut_off_is_named_as_such(lora_run, tmp_path):
    import socket
    import subprocess

    run = tmp_path / "cut"
    run.mkdir()
    (run / "config.yaml").write_text((lora_run / "config.yaml").read_text())
    gone = subprocess.Popen(["true"])
    gone.wait()
    (run / "status.json").write_text(json.dumps({"state": "running", "pid": gone.pid, "host": socket.gethostname()}))
    with pytest.raises(StudioError, match="cut off") as err:
        evaluate_run(run)
    assert "wait for it" not in str(err.value)
    # a run that is really still going is told to wait
    (run / "status.json").write_text(json.dumps({"state": "running", "pid": __import__("os").getppid(),
                                                 "host": socket.gethostname()}))
    with pytest.raises(StudioError, match="wait for it to finish"):
        evaluate_run(run)


def test_summary_table_keeps_large_numbers_apart_and_explains_loss_only_results():
    from studio.cli.evaluate import format_summary

    result = {"task": "chat", "n_examples": 2, "generated": 0, "short_answers": False,
              "base": {"eval_loss": 15.7212, "perplexity": 6724349.6045, "rougeL": None},
              "tuned": {"eval_loss": 16.1657, "perplexity": 10487795.9323, "rougeL": None},
              "change": {"eval_loss": 0.4445, "perplexity": 3763446.3278}}
    text = format_summary(result)
    row = next(line for line in text.splitlines() if line.startswith("perplexity"))
    assert row.split() == ["perplexity", "6724349.6045", "10487795.9323", "+3763446.3278", "worse"]
    assert "only the loss" in text and "exact match" not in text

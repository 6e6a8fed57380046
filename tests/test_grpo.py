"""Reinforcement learning from rewards (task grpo): every reward kind scores hand-made replies, a GRPO run trains
through the CLI on a tiny random model with its rewards in the events, the preview and the evaluation, and a
reward file is refused on a shared studio whose policy does not allow it."""

import json

import pytest

from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.core.runfolder import RunFolder
from studio.tasks.grpo import rewards as R

from conftest import write_jsonl


def score(entry, replies, rows=None, columns=None, base=None):
    reward = R.parse([entry], base=base, columns=columns)[0]
    return reward.score([""] * len(replies), replies, rows or [{}] * len(replies))


def test_format_by_pattern_and_by_tag_template():
    assert score({"kind": "format", "pattern": r"\d+$"}, ["it is 4", "four"]) == [1.0, 0.0]
    tpl = {"kind": "format", "template": "<think>...</think><answer>...</answer>"}
    assert score(tpl, ["<think>2+2</think> <answer>4</answer>", "<answer>4</answer><think>x</think>",
                       "<think>a</think><answer>4</answer> and more"]) == [1.0, 0.0, 0.0]


def test_answer_matches_exact_numeric_and_math():
    rows = [{"answer": "0.5"}] * 4
    replies = ["0.5", "The answer is 0.50", "<think>half</think><answer>1/2</answer>", "about 0.7"]
    assert score({"kind": "exact_match", "column": "answer"}, replies, rows, {"answer"}) == [1.0, 0.0, 0.0, 0.0]
    assert score({"kind": "numeric_match", "column": "answer"}, replies, rows, {"answer"}) == [1.0, 1.0, 0.0, 0.0]
    assert score({"kind": "numeric_match", "column": "answer", "tolerance": 0.25}, replies, rows)[3] == 1.0
    assert score({"kind": "math_match", "column": "answer"}, replies, rows, {"answer"}) == [1.0, 1.0, 1.0, 0.0]
    assert score({"kind": "numeric_match", "column": "answer"}, ["1,200 apples"], [{"answer": "1200"}]) == [1.0]
    rows = [{"city": "New Delhi"}] * 4  # named anywhere in the reply, as whole words, case ignored
    replies = ["The capital is new delhi.", "Delhi", "New Delhiwala", "<answer>New Delhi</answer> not Mumbai"]
    assert score({"kind": "mentions", "column": "city"}, replies, rows, {"city"}) == [1.0, 0.0, 0.0, 1.0]
    assert score({"kind": "mentions", "column": "city"}, ["anything"], [{"city": ""}]) == [0.0]  # no reference


def test_contains_avoids_and_length():
    replies = ["Thanks, here it is.", "Sorry, I cannot.", "thanks and please"]
    assert score({"kind": "contains", "words": ["thanks"]}, replies) == [1.0, 0.0, 1.0]
    assert score({"kind": "contains", "words": ["thanks", "please"], "all": True}, replies) == [0.5, 0.0, 1.0]
    assert score({"kind": "avoids", "words": ["sorry", "cannot"]}, replies) == [1.0, 0.0, 1.0]
    assert score({"kind": "contains", "words": ["cat"]}, ["concatenate"]) == [0.0]  # whole words only
    assert score({"kind": "length", "max_words": 4}, ["one two", "a b c d e f", "x" * 9, " ".join("x" * 9)]) == [1.0, 0.5, 1.0, 0.0]
    assert score({"kind": "length", "max_words": 2}, ["a b c d e f"]) == [0.0]
    assert score({"kind": "length", "min_words": 4}, ["a b"]) == [0.5]


def test_json_with_and_without_schema(tmp_path):
    replies = ['{"name": "Ada", "age": 36}', '```json\n{"name": "Ada"}\n```', "name: Ada"]
    assert score({"kind": "json"}, replies) == [1.0, 1.0, 0.0]
    schema = tmp_path / "person.json"
    schema.write_text(json.dumps({"type": "object", "required": ["name", "age"]}))
    assert score({"kind": "json", "schema": "person.json"}, replies, base=tmp_path) == [1.0, 0.5, 0.0]


def test_python_reward_from_a_file(tmp_path):
    (tmp_path / "my_reward.py").write_text(
        "def reward(completions, answer=None, **kw):\n"
        "    return [1.0 if a in c else -1.0 for c, a in zip(completions, answer)]\n")
    rows = [{"answer": "7"}, {"answer": "7"}]
    assert score({"kind": "python", "file": "my_reward.py"}, ["it is 7", "it is 8"], rows, base=tmp_path) == [1.0, -1.0]
    with pytest.raises(StudioError, match="no function 'nope'"):
        score({"kind": "python", "file": "my_reward.py", "function": "nope"}, ["x"], base=tmp_path)


def test_reward_model_from_a_sequence_classification_folder(tmp_path, tiny_model_dir):
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, num_labels=2, pad_token_id=tok.pad_token_id,
                      id2label={0: "rude", 1: "kind"}, label2id={"rude": 0, "kind": 1})
    torch.manual_seed(0)
    LlamaForSequenceClassification(cfg).save_pretrained(tmp_path / "rm")
    tok.save_pretrained(tmp_path / "rm")
    kind = score({"kind": "reward_model", "path": str(tmp_path / "rm"), "label": "kind"}, ["thanks!", "go away"])
    rude = score({"kind": "reward_model", "path": str(tmp_path / "rm"), "label": "rude"}, ["thanks!", "go away"])
    assert all(0 < x < 1 for x in kind) and [round(a + b, 4) for a, b in zip(kind, rude)] == [1.0, 1.0]
    with pytest.raises(StudioError, match="not one of the model's labels: rude, kind"):
        score({"kind": "reward_model", "path": str(tmp_path / "rm"), "label": "polite"}, ["x"])


@pytest.mark.parametrize("entries, message", [
    ([], "needs at least one reward"),
    ([{"kind": "lenght", "max_words": 3}], "unknown kind 'lenght'"),
    ([{"kind": "length"}], "give max_words, min_words or both"),
    ([{"kind": "numeric_match"}], r"needs column"),
    ([{"kind": "numeric_match", "column": "solution"}], "no column 'solution'"),
    ([{"kind": "format", "pattern": "("}], "not a valid regular expression"),
    ([{"kind": "contains", "words": ["a"], "weight": "heavy"}], "weight must be a number"),
    ([{"kind": "avoids", "words": ["a"], "colour": 1}], "unknown field"),
])
def test_bad_reward_entries_say_what_and_where(entries, message):
    with pytest.raises(StudioError, match=message):
        R.parse(entries, columns={"answer"})


def test_rewards_from_yaml_and_set_keep_their_fields(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("task: grpo\nrewards:\n  - {kind: numeric_match, column: answer, weight: 2}\n"
                    "  - {kind: length, max_words: 12}\n")
    cfg = StudioConfig.load(path)
    assert cfg.rewards == [{"kind": "numeric_match", "column": "answer", "weight": 2}, {"kind": "length", "max_words": 12}]
    cfg = cfg.with_overrides(["rewards=[{kind: avoids, words: [sorry]}]"])
    assert cfg.rewards == [{"kind": "avoids", "words": ["sorry"]}]
    again = StudioConfig.from_dict(cfg.to_dict())
    assert again.rewards == cfg.rewards


def prompts(n=24):
    return [{"prompt": f"What is {i} plus {i}?", "answer": str(2 * i)} for i in range(n)]


def grpo_overrides(model_dir, data, out, *extra):
    return [f"model.source={model_dir}", f"data.train={data}", f"output_dir={out}", "task=grpo",
            "train.max_steps=2", "train.batch_size=4", "train.learning_rate=1e-3", "train.logging_steps=1",
            "data.max_length=64", "lora.r=4", "lora.alpha=8", "train.warmup_ratio=0",
            "grpo.generations=2", "grpo.max_new_tokens=8",
            "rewards=[{kind: numeric_match, column: answer}, {kind: length, max_words: 4, weight: 0.5}]", *extra]


def test_grpo_trains_through_the_cli_previews_and_evaluates(tiny_model_dir, tmp_path, capsys):
    from studio.cli.main import main
    from studio.tasks.grpo.preview import main as preview_main

    data = write_jsonl(tmp_path / "p.jsonl", prompts())
    out = tmp_path / "run"
    sets = grpo_overrides(tiny_model_dir, data, out, "data.system_prompt=Answer with a number.")
    cfg_file = tmp_path / "grpo.yaml"
    StudioConfig().with_overrides(sets).save(cfg_file)
    assert preview_main([str(cfg_file), "--prompts", "2", "--replies", "2", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert len(shown["rows"]) == 4 and shown["columns"] == ["prompt", "reply", "numeric_match", "length", "total"]
    verdicts = {v["reward"]: v for v in shown["rewards"]}
    assert verdicts["numeric_match"]["fired"] == 0 and "never fires" in verdicts["numeric_match"]["note"]  # random model

    assert main(["train", str(cfg_file), "--set", "launch.backend=inline"]) == 0
    capsys.readouterr()
    events = RunFolder(out).read_events()
    start = events[0]
    assert start["task"] == "grpo" and start["generations"] == 2 and [r["name"] for r in start["rewards"]] == ["numeric_match", "length"]
    assert {"reward", "reward_numeric_match", "reward_length", "completion_length", "kl"} <= set(start["chart_metrics"])
    logs = [e for e in events if e["type"] == "log"]
    assert len(logs) == 2 and all({"reward", "reward_length", "completion_length", "kl"} <= set(e) for e in logs)
    samples = [e for e in events if e["type"] == "samples"]
    assert len(samples) == 2 and samples[0]["samples"][0]["prompt"].startswith("What is")
    assert set(samples[0]["samples"][0]["rewards"]) == {"numeric_match", "length"}
    assert events[-1]["type"] == "end" and events[-1]["state"] == "finished"

    main(["eval", str(out), "--limit", "2", "--max-new-tokens", "6", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["task"] == "grpo" and result["n_examples"] == 2
    for side in ("base", "tuned"):
        assert {"reward", "reward_numeric_match", "reward_length"} <= set(result[side])
    assert {"prompt", "base", "tuned", "base_reward", "tuned_reward"} <= set(result["examples"][0])


def test_samples_event_from_trls_logs_and_as_the_page_shows_it():
    from studio.tasks.grpo.views import samples_rows
    from studio.tasks.grpo.setup import samples_event

    prompt = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 plus 2?"}]
    logs = {"prompt": [prompt] * 4, "completion": [[{"role": "assistant", "content": c}] for c in ("4", "Four.", "It is 4", "5")],
            "rewards": {"numeric_match": [1.0, 0.0, 1.0, 0.0], "length": [1.0, 1.0, 1.0, 0.5]}}
    event = samples_event(logs, 3, [1.0, 0.5], shown=2)
    assert event["type"] == "samples" and event["step"] == 3 and len(event["samples"]) == 2
    assert event["samples"][1] == {"prompt": "What is 2 plus 2?", "reply": "It is 4",
                                   "rewards": {"numeric_match": 1.0, "length": 1.0}, "total": 1.5}
    note, rows = samples_rows([{"type": "log"}, event])
    assert "step 3" in note and rows[0][:2] == ["What is 2 plus 2?", "4"] and rows[0][3] == 1.5
    assert samples_rows([])[1] == []


def test_batch_must_hold_whole_groups_of_replies(tiny_model_dir, tmp_path):
    from studio import tasks

    cfg = StudioConfig().with_overrides(grpo_overrides(tiny_model_dir, write_jsonl(tmp_path / "p.jsonl", prompts()),
                                                       tmp_path / "r", "train.batch_size=3"))
    with pytest.raises(StudioError, match="multiple of grpo.generations"):
        tasks.check(cfg)


def test_system_prompt_is_added_where_the_data_has_none(tmp_path):
    from studio.core.splits import load_splits

    rows = [{"messages": [{"role": "system", "content": "Own."}, {"role": "user", "content": "Hi"},
                          {"role": "assistant", "content": "Hello"}]}] + [
        {"messages": [{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": "A"}]} for i in range(3)]
    cfg = StudioConfig().with_overrides([f"data.train={write_jsonl(tmp_path / 'c.jsonl', rows)}", "data.eval_fraction=0",
                                         "data.system_prompt=Be brief."])
    train, _, _ = load_splits(cfg)
    assert [r["messages"][0]["content"] for r in train] == ["Own.", "Be brief.", "Be brief.", "Be brief."]
    from studio import tasks
    assert tasks.get("chat").system_prompt(cfg) == "Be brief."


def test_reward_code_is_refused_on_a_shared_studio_unless_the_policy_allows_it(tmp_path):
    from studio.server.policy import Policy

    (tmp_path / "r.py").write_text("def reward(completions, **kw):\n    return [0.0] * len(completions)\n")
    cfg = StudioConfig().with_overrides(["task=grpo", f"rewards=[{{kind: python, file: {tmp_path / 'r.py'}}}]"])
    with pytest.raises(StudioError, match="reward_code"):
        Policy().check_code(cfg, shared=True)
    Policy().check_code(cfg, shared=False)  # a single-user studio runs the person's own code
    allowed = tmp_path / "policy.yaml"
    allowed.write_text("reward_code: true\n")
    Policy.load(allowed).check_code(cfg, shared=True)
    safe = StudioConfig().with_overrides(["task=grpo", "rewards=[{kind: length, max_words: 3}]"])
    Policy().check_code(safe, shared=True)


@pytest.mark.slow
@pytest.mark.long  # about 5 minutes on 2 cores: left out of the default run (the suite's budget); -m long runs it
def test_grpo_teaches_the_embedded_model_short_replies_that_keep_the_answer_on_questions_it_never_saw(tmp_path):
    """The shipped example (20 GRPO steps on general-knowledge prompts, a reward for naming the reference answer and
    one for a short reply), evaluated on a second set of questions written in other shapes ("Name the planet we live
    on."): the base model rambles on many; the tuned model answers most in ten words or fewer, and names the right
    answer at least as often as the base, less one (a style learned by breaking the answers fails here)."""
    import time

    from conftest import REPO
    from studio.engine.evaluate import evaluate_run
    from studio.engine.train import run_training

    cfg = StudioConfig.load(REPO / "examples" / "grpo.yaml").with_overrides(
        [f"output_dir={tmp_path / 'run'}", "launch.backend=inline"])
    started = time.time()
    assert run_training(cfg)["state"] == "finished"
    print(f"{cfg.train.max_steps} GRPO steps in {time.time() - started:.0f} s")
    unseen = REPO / "assets" / "datasets" / "facts_prompts_unseen.jsonl"
    result = evaluate_run(tmp_path / "run", data_path=str(unseen), limit=0, max_new_tokens=40)
    n = len(result["examples"])
    print("questions", n, "base", result["base"], "tuned", result["tuned"])
    for r in result["examples"]:
        print(repr(r["prompt"]), "| base:", repr(r["base"][:80]), "| tuned:", repr(r["tuned"][:80]))
    base, tuned = result["base"], result["tuned"]
    assert tuned["reward_length"] >= 0.75 and tuned["reward_length"] >= base["reward_length"] + 0.2
    assert tuned["reward_mentions"] >= base["reward_mentions"] - 1 / n

"""A task is a plug-in: one defined here, in the test, trains, predicts, evaluates and exports through the CLI
without any file of the studio knowing about it."""

import json

import pytest

from studio.core import models

from studio import tasks
from studio.cli.main import main
from studio.core.loading import load_for_training
from studio.core.params import count_parameters
from studio.core.setup import TaskSetup
from studio.tasks.base import Task

from conftest import write_jsonl


def shouted_scores(folder, config, data_path, limit, hit_name: str) -> dict:
    """Base and tuned on held-out texts in capitals: the loss and the share of next tokens guessed (as ``hit_name``)."""
    import torch
    from peft import PeftModel

    from studio.core.splits import held_out_records

    records, source, total = held_out_records(config, data_path, limit)
    tok = models.load_tokenizer(str(folder.model_dir))
    model = PeftModel.from_pretrained(models.load_causal_lm(config.model.source), str(folder.model_dir)).eval()
    scores = {}
    for side, tuned in (("base", False), ("tuned", True)):
        losses, hits = [], []
        for r in records:
            ids = torch.tensor([tok(r["text"].upper())["input_ids"]])
            with torch.no_grad(), (torch.no_grad() if tuned else model.disable_adapter()):
                out = model(input_ids=ids, labels=ids)
            losses.append(float(out.loss))
            hits.append(float((out.logits[0, :-1].argmax(-1) == ids[0, 1:]).float().mean()))
        scores[side] = {"eval_loss": round(sum(losses) / len(losses), 5), hit_name: round(sum(hits) / len(hits), 4)}
    return {"data": source, "n_examples": len(records), "held_out_examples": total, **scores,
            "examples": [{"text": r["text"]} for r in records[:3]]}


class ShoutTask(Task):
    """Learn to continue plain text in capitals: a causal LM trained on whole texts, scored by loss alone."""

    name = "shout"
    title = "Shouting (a test task)"
    help = "continue text in capitals"
    data_formats = ("text",)
    try_tab = "chat"
    metrics = {"eval_loss": False, "token_match": True}
    pipeline_tag = "text-generation"
    purpose = "shouting"

    def setup(self, config, hw, train_records, eval_records):
        tok = models.load_tokenizer(config.model.source)

        def encode(records):
            out = []
            for r in records:
                ids = tok(r["text"].upper() + tok.eos_token, truncation=True, max_length=config.data.max_length)["input_ids"]
                out.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": list(ids)})
            return out

        model = load_for_training(config, hw, lambda **kw: models.load_causal_lm(config.model.source, **kw))
        total, trainable = count_parameters(model)

        def collate(batch):
            import torch

            n = max(len(b["input_ids"]) for b in batch)
            pad = lambda seq, v: seq + [v] * (n - len(seq))  # noqa: E731
            return {"input_ids": torch.tensor([pad(b["input_ids"], tok.pad_token_id) for b in batch]),
                    "attention_mask": torch.tensor([pad(b["attention_mask"], 0) for b in batch]),
                    "labels": torch.tensor([pad(b["labels"], -100) for b in batch])}

        return TaskSetup(model, tok, encode(train_records), encode(eval_records), collate,
                         {"parameters": total, "trainable_parameters": trainable, "shouted": True})

    def evaluate(self, folder, config, data_path, limit, max_new_tokens, report, models_=None):
        return shouted_scores(folder, config, data_path, limit, "token_match")

    def merged_model(self, folder, config):
        from peft import PeftModel

        base = models.load_causal_lm(config.model.source)
        return (PeftModel.from_pretrained(base, str(folder.model_dir)).merge_and_unload(),
                models.load_tokenizer(str(folder.model_dir)), base.config)

    def load_snippet(self, kind, path):
        return f"# a shouting model\nfrom transformers import AutoModelForCausalLM\nAutoModelForCausalLM.from_pretrained({path!r})"

    def card_limitations(self):
        return "It only shouts."

    def eval_notes(self, result):
        return ["Token match counts next tokens guessed right."]

    def example_lines(self, result):
        return [f"- {r['text']}" for r in result.get("examples", [])]


@pytest.fixture
def shout():
    task = tasks.register(ShoutTask())
    yield task
    tasks.unregister(task.name)


def test_a_task_defined_in_a_test_trains_predicts_evaluates_and_exports_through_the_cli(shout, tiny_model_dir, tmp_path, capsys):
    texts = [{"text": f"the {w} number {i} is here"} for i in range(24) for w in ("cat", "dog")]
    data = write_jsonl(tmp_path / "texts.jsonl", texts)
    run = tmp_path / "run"
    assert "shout" in tasks.names() and tasks.for_format("text").name == "chat"  # built-ins keep their formats

    # inline: the task lives in this process only (a task package under studio/tasks/ also trains in a process of its own)
    assert main(["train", "examples/quickstart.yaml", "--set", "task=shout", "--set", "launch.backend=inline",
                 "--set", f"model.source={tiny_model_dir}",
                 "--set", f"data.train={data}", "--set", f"output_dir={run}", "--set", "train.max_steps=6",
                 "--set", "train.learning_rate=0.01", "--set", "train.eval_steps=3", "--set", "data.max_length=32"]) == 0
    start = next(json.loads(line) for line in (run / "events.jsonl").read_text().splitlines() if '"start"' in line)
    assert start["task"] == "shout" and start["shouted"] is True
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    assert (run / "model" / "adapter_config.json").exists()
    capsys.readouterr()

    assert main(["chat", str(run), "--prompt", "the cat", "--max-new-tokens", "4"]) == 0  # predict
    assert capsys.readouterr().out.strip()

    assert main(["eval", str(run), "--limit", "4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["task"] == "shout" and result["n_examples"] == 4
    assert result["tuned"]["eval_loss"] < result["base"]["eval_loss"]  # it learned to shout
    assert set(result["change"]) == {"eval_loss", "token_match"}
    assert main(["eval", str(run), "--limit", "4"]) == 0
    text = capsys.readouterr().out
    assert "token_match" in text and "(token match counts next tokens guessed right)" in text and "- the " in text

    out = tmp_path / "export"
    assert main(["export", str(run), "--merge", "--out", str(out)]) == 0
    card = (out / "README.md").read_text()
    assert "pipeline_tag: text-generation" in card and "trained for shouting" in card and "It only shouts." in card
    assert "a shouting model" in card and "token_match" in card
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(str(out)).config.vocab_size > 0


def test_an_unknown_task_is_one_clear_error(tmp_path, capsys):
    assert main(["train", "examples/quickstart.yaml", "--set", "task=nope", "--set", f"output_dir={tmp_path}/r"]) == 2
    err = capsys.readouterr().err
    assert "unknown task 'nope'" in err and "chat" in err and "classification" in err

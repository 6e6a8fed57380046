"""Comparing runs: three tiny runs, the settings that differ are exactly the ones changed, curves align by step,
the best final figure is marked, and the CLI prints the same as JSON."""

import json

import pytest

from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.engine.train import run_training
from studio.server.compare import aligned, compare


@pytest.fixture(scope="module")
def three_runs(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("cmp")
    rows = [{"messages": [{"role": "user", "content": f"Question {i}: what is {i} plus {i}?"},
                          {"role": "assistant", "content": f"The answer is {2 * i}."}]} for i in range(24)]
    data = root / "chat.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    base = [f"model.source={tiny_model_dir}", f"data.train={data}", "train.max_steps=4", "train.batch_size=4",
            "train.logging_steps=1", "train.eval_steps=2", "train.save_steps=4", "data.max_length=64",
            "lora.r=4", "lora.alpha=8", "train.learning_rate=1e-3"]
    changes = {"a": [], "b": ["train.learning_rate=1e-2"], "c": ["train.learning_rate=1e-5", "lora.r=8"]}
    for name, extra in changes.items():
        run_training(StudioConfig().with_overrides(base + [f"output_dir={root / name}"] + extra))
    return [root / n for n in changes]


def test_compare_shows_only_what_changed_and_aligns_curves(three_runs):
    result = compare(three_runs)
    assert [r["name"] for r in result["runs"]] == ["a", "b", "c"]
    settings = {s["key"]: s["values"] for s in result["settings"]}
    assert settings == {"train.learning_rate": [1e-3, 1e-2, 1e-5], "lora.r": [4, 4, 8]}
    rows = aligned(result, "loss")
    assert [r[0] for r in rows] == [1, 2, 3, 4] and all(v is not None for r in rows for v in r[1:])
    events_a = [json.loads(line) for line in (three_runs[0] / "events.jsonl").read_text().splitlines()]
    assert [r[1] for r in rows] == [e["loss"] for e in events_a if e["type"] == "log"]
    evals = aligned(result, "eval_loss")
    assert [r[0] for r in evals] == [2, 4]
    by_tokens = aligned(result, "loss", by="tokens")
    assert by_tokens and all(r[0] > 0 for r in by_tokens)
    lr = aligned(result, "learning_rate")
    assert lr[-1][1] != lr[-1][2]  # the learning rates really differ, step by step
    final = {m["name"]: m for m in result["metrics"]}
    eval_losses = final["eval_loss"]["values"]
    assert final["eval_loss"]["best"] == eval_losses.index(min(eval_losses)) and final["eval_loss"]["better"] == "lower"


def test_compare_cli_json_and_limits(three_runs, capsys):
    from studio.cli.main import main

    assert main(["compare", *map(str, three_runs[:2]), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["key"] for s in out["settings"]] == ["train.learning_rate"]
    assert main(["compare", *map(str, three_runs)]) == 0
    text = capsys.readouterr().out
    assert "train.learning_rate" in text and "lora.r" in text and "*" in text
    with pytest.raises(StudioError, match="2 to 8 runs"):
        compare(three_runs[:1])
    assert main(["compare", str(three_runs[0]), str(three_runs[0].parent / "nope")]) == 2


def test_the_runs_tab_draws_and_tabulates_a_comparison(three_runs):
    from studio.ui.charts import compare_figure
    from studio.ui.runs_tab import compare_md

    result = compare(three_runs)
    text = compare_md(result)
    assert "`train.learning_rate`" in text and "`lora.r`" in text and "✓" in text
    assert "`data.train`" not in text and "`output_dir`" not in text
    fig = compare_figure(result, "step")
    names = {t.name for t in fig.data}
    assert names == {"a", "b", "c"} and len(fig.data) == 9  # three curves per run
    loss_a = next(t for t in fig.data if t.name == "a" and t.xaxis == "x")
    assert list(loss_a.x) == [1, 2, 3, 4]
    by_tokens = compare_figure(result, "tokens")
    assert max(next(t for t in by_tokens.data if t.name == "a").x) > 4

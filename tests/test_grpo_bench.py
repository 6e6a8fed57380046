"""``python -m studio bench --grpo`` on a tiny random model: the step is split into generation and the rest, the
tokens the generation timer counted are the replies' tokens, and the plain generate baseline runs the same batches;
``grpo.use_vllm`` is refused clearly where vLLM or a CUDA GPU is missing."""

import json

import pytest

from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.core.runfolder import RunFolder

from conftest import write_jsonl


def test_bench_splits_grpo_steps_and_counts_the_replies_tokens(tiny_model_dir, tmp_path, monkeypatch, capsys):
    from studio.cli.main import main
    from studio.engine.train import run_training
    from studio.tasks.grpo import bench

    data = write_jsonl(tmp_path / "p.jsonl", [{"prompt": f"What is {i} plus {i}?", "answer": str(2 * i)} for i in range(8)])
    runs = []

    def train(config):  # the studio's training path, keeping the run's events for the checks below
        runs.append(config.output_dir)
        out = run_training(config)
        runs.append(RunFolder(config.output_dir).read_events())
        return out

    res = bench.run_bench(tiny_model_dir, train, steps=2, prompts=2, generations=2, max_new_tokens=6, data=data)
    events = runs[1]
    logs = [e for e in events if e["type"] == "log"]
    gens = [e for e in events if e["type"] == "generation"]
    assert [e["step"] for e in gens] == [e["step"] for e in logs] == [1, 2]
    assert res["replies"] == 2 * 4 and all(g["replies"] == 4 for g in gens)
    # the timer counts exactly the tokens TRL logs as the replies' mean length
    assert res["generated_tokens"] == sum(g["tokens"] for g in gens)
    assert res["generated_tokens"] == round(sum(e["completion_length"] * 4 for e in logs))
    assert res["trained_tokens"] == logs[-1]["tokens_seen"] > res["generated_tokens"]  # prompts + replies
    assert 0 < res["generation_seconds_per_step"] < res["seconds_per_step"] and 0 < res["generation_share"] < 1
    for key in ("generation_tokens_per_second", "training_tokens_per_second", "plain_generate_tokens_per_second"):
        assert res[key] > 0, key
    assert 0 < res["plain_generated_tokens"] <= 2 * 4 * 6
    assert abs(res["generation_vs_plain_generate"] - res["generation_tokens_per_second"]
               / res["plain_generate_tokens_per_second"]) < 0.02
    assert "generation" in "\n".join(bench.report(res))

    monkeypatch.setattr(bench, "run_bench", lambda model, train, steps, max_new_tokens: dict(res, steps=steps,
                                                                                          max_new_tokens=max_new_tokens))
    assert main(["bench", "--grpo", "--json", "--model", tiny_model_dir, "--steps", "5", "--max-tokens", "9"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["steps"] == 5 and shown["max_new_tokens"] == 9


def test_use_vllm_is_refused_without_vllm_or_without_a_gpu(tiny_model_dir, tmp_path, monkeypatch):
    import importlib.util

    from studio import tasks
    from studio.tasks.grpo import setup

    data = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "What is 1 plus 1?", "answer": "2"}] * 4)
    cfg = StudioConfig().with_overrides([f"model.source={tiny_model_dir}", f"data.train={data}", "task=grpo",
                                         "train.batch_size=4", "grpo.generations=4", "grpo.use_vllm=true",
                                         "rewards=[{kind: numeric_match, column: answer}]"])
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    with pytest.raises(StudioError, match=r"vLLM is not installed.*pip install vllm.*grpo.use_vllm=false"):
        tasks.check(cfg, cuda=True)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "vllm" else real(name, *a))
    with pytest.raises(StudioError, match=r"CUDA GPU and this machine has none.*grpo.use_vllm=false"):
        tasks.check(cfg, cuda=False)
    setup.check_vllm(cuda=True)  # both there: no refusal
    assert tasks.check(cfg.with_overrides(["grpo.use_vllm=false"]), cuda=False) is not None

"""Sweeps on the tiny model: a grid of two learning rates runs both and names the lower eval loss; a search
prunes a trial that falls behind; a sweep killed mid-trial resumes where it was."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.core.runfolder import RunFolder

pytest.importorskip("optuna")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def sweep_config(tiny_model_dir, chat_file, tmp_path):
    def make(steps=4, eval_steps=2, save_steps=4):
        cfg = tmp_path / "sweep.yaml"
        cfg.write_text(
            f"model: {{source: {tiny_model_dir}}}\n"
            f"data: {{train: {chat_file}, max_length: 64}}\n"
            f"train: {{max_steps: {steps}, batch_size: 4, logging_steps: 1, eval_steps: {eval_steps}, "
            f"save_steps: {save_steps}}}\n"
            "lora: {r: 4, alpha: 8}\n"
            "launch: {backend: inline}\n"
            f"output_dir: {tmp_path / 'sweep'}\n")
        return cfg
    return make


def last_eval_loss(run_path) -> float:
    return [e for e in RunFolder(run_path).read_events() if e["type"] == "eval"][-1]["eval_loss"]


def test_grid_runs_every_point_and_names_the_lowest_eval_loss(sweep_config, capsys):
    from studio.cli.main import main

    cfg = sweep_config()
    assert main(["sweep", str(cfg), "--grid", "train.learning_rate=1e-5,2e-2", "--no-prune", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["complete"] and len(summary["trials"]) == 2
    assert all(t["state"] == "complete" for t in summary["trials"])
    losses = {t["settings"]["train.learning_rate"]: last_eval_loss(Path(summary["folder"]) / t["run"])
              for t in summary["trials"]}
    assert set(losses) == {1e-5, 2e-2}
    best_lr = min(losses, key=losses.get)
    assert summary["best"]["settings"] == {"train.learning_rate": best_lr}
    assert summary["best"]["value"] == pytest.approx(losses[best_lr])
    on_disk = json.loads((Path(summary["folder"]) / "summary.json").read_text())
    assert on_disk["best"]["run"] == summary["best"]["run"] and (Path(summary["folder"]) / "study.db").exists()


def test_search_prunes_a_trial_that_falls_behind(sweep_config, capsys):
    from studio.cli.main import main

    cfg = sweep_config(steps=40, eval_steps=1, save_steps=40)  # long enough for a stop to land before the end
    assert main(["sweep", str(cfg), "--search", "train.learning_rate=1e-6..5e-2:log", "--trials", "4", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    pruned = [t for t in summary["trials"] if t["state"] == "pruned"]
    assert len(summary["trials"]) == 4 and pruned
    for t in pruned:  # judged early on its eval loss, and stopped before its planned 40 steps
        assert max(t["steps_reported"]) < 40
        end = [e for e in RunFolder(Path(summary["folder"]) / t["run"]).read_events() if e["type"] == "end"][-1]
        assert end["state"] == "stopped" and end["step"] < 40
    assert summary["best"]["number"] not in [t["number"] for t in pruned]


def test_a_killed_sweep_resumes_where_it_was(sweep_config, tmp_path):
    cfg = sweep_config(steps=10, eval_steps=5, save_steps=2)
    cmd = [sys.executable, "-m", "studio", "sweep", str(cfg), "--grid", "train.learning_rate=1e-4,1e-3", "--no-prune",
           "--json"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    folder = tmp_path / "sweep"
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 240
        while time.time() < deadline:  # kill it once the second trial has a checkpoint
            runs = sorted(p for p in folder.glob("*trial-001*") if (p / "checkpoints").exists())
            if runs and RunFolder(runs[0]).last_checkpoint() is not None:
                break
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.2)
        else:
            pytest.fail("the second trial never saved a checkpoint")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    first = [p.name for p in folder.glob("*trial-000*")]
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["complete"] and [t["state"] for t in summary["trials"]] == ["complete", "complete"]
    assert [p.name for p in folder.glob("*trial-000*")] == first  # the finished trial was not run again
    assert len([p for p in folder.iterdir() if (p / "config.yaml").exists()]) == 2
    second = RunFolder(folder / summary["trials"][1]["run"]).read_events()
    assert [e for e in second if e["type"] == "start"][-1]["resumed_from"]  # continued from its checkpoint
    assert "resuming its run" in out.stderr


def test_the_sweep_panel_runs_a_persons_sweep_as_her_runs(tiny_model_dir, chat_file, tmp_path):
    from studio.core.config import StudioConfig
    from studio.server.runs import RunStore
    from studio.ui import sweep_panel

    store = RunStore(tmp_path / "runs", launcher="inline")
    alice, bob = store.for_user("alice"), store.for_user("bob")
    cfg = StudioConfig().with_overrides([f"model.source={tiny_model_dir}", f"data.train={chat_file}", "train.max_steps=2",
                                         "train.batch_size=4", "train.eval_steps=2", "data.max_length=64", "lora.r=4"])
    ranges = [default for _, _, default, _ in sweep_panel.VARY]
    sweeps: dict = {}
    assert "tick at least one" in sweep_panel.start(alice, sweeps, cfg, [], ranges, 2, 0)
    message = sweep_panel.start(alice, sweeps, cfg, ["train.learning_rate"], ["1e-4..1e-2"] + ranges[1:], 2, 0)
    assert "Sweep started: 2 trials" in message
    assert "going on" in sweep_panel.start(alice, sweeps, cfg, ["train.learning_rate"], ranges, 2, 0)
    sweeps["alice"].join(300)
    text = sweep_panel.summary_md(alice, sweeps)
    assert "2 of 2 trials, done" in text and "✓ best" in text
    assert len(alice.list()) == 2 and all(r.owner == "alice" for r in alice.list())
    assert sweep_panel.summary_md(bob, sweeps) == "No sweep yet." and not bob.list()
    store.close()

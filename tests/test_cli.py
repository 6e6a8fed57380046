"""The CLI: help on every command, and bad input answered with one clear line and no traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def studio(*args: str, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("command", ["train", "chat", "check", "bench", "prepare", "ui", "serve"])
def test_help_on_each_command(command):
    res = studio(command, "--help")
    assert res.returncode == 0 and "usage:" in res.stdout


def one_clear_line(res, *words):
    assert res.returncode != 0
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout
    assert lines and lines[-1].startswith("error: ")
    for w in words:
        assert w in lines[-1], lines[-1]


def test_missing_config_file():
    one_clear_line(studio("train", "no/such.yaml"), "config file not found", "no/such.yaml")


def test_unknown_key_and_bad_value():
    one_clear_line(studio("train", "examples/quickstart.yaml", "--set", "train.learning_rat=1"), "unknown config key", "learning_rate")
    one_clear_line(studio("train", "examples/quickstart.yaml", "--set", "train.batch_size=0"), "train.batch_size", "minimum")


def test_missing_data_file(tmp_path):
    one_clear_line(studio("train", "examples/quickstart.yaml", "--set", "data.train=nope.jsonl", "--set", f"output_dir={tmp_path}/r"),
                   "data.train", "file not found")
    assert not (tmp_path / "r").exists()


def test_unknown_model_and_impossible_combination(tmp_path):
    one_clear_line(studio("train", "examples/quickstart.yaml", "--set", "model.source=not-a-model", "--set", f"output_dir={tmp_path}/r"),
                   "unknown model 'not-a-model'")
    one_clear_line(studio("train", "examples/quickstart.yaml", "--set", "train.precision=fp16", "--set", f"output_dir={tmp_path}/r2"),
                   "needs a CUDA GPU")


def test_chat_on_a_folder_that_is_not_a_run(tmp_path):
    one_clear_line(studio("chat", str(tmp_path), "--prompt", "hi"), "not a run folder")


def test_train_prints_progress_and_each_warning_once(tiny_model_dir, chat_file, tmp_path):
    res = studio("train", "examples/quickstart.yaml", "--set", f"model.source={tiny_model_dir}", "--set", f"data.train={chat_file}",
                 "--set", f"output_dir={tmp_path}/r", "--set", "method=qlora", "--set", "train.max_steps=2",
                 "--set", "train.eval_steps=1", "--set", "data.max_length=64")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "step 2/2" in res.stdout and "eval at step 2: loss" in res.stdout and "finished at step 2" in res.stdout
    assert res.stderr.count("qlora without a CUDA GPU") == 1

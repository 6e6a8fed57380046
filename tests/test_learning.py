"""The real embedded model learns: 15 LoRA steps teach it an answer style that the base model lacks."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UNSEEN = ["What is the capital of Spain?", "Why do leaves change color in autumn?", "How many legs does a dog have?"]


def studio(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_quickstart_teaches_the_answer_style(tmp_path):
    run_dir = tmp_path / "quickstart"
    train = studio("train", "examples/quickstart.yaml", "--set", f"output_dir={run_dir}", "--set", "train.max_steps=15")
    assert train.returncode == 0, train.stderr[-2000:]
    assert "finished at step 15" in train.stdout
    data = (REPO / "assets/datasets/pirate_style.jsonl").read_text()
    tuned_styled = base_styled = 0
    for prompt in UNSEEN:
        assert prompt not in data
        tuned = studio("chat", str(run_dir), "--prompt", prompt, "--max-new-tokens", "40")
        base = studio("chat", str(run_dir), "--prompt", prompt, "--base", "--max-new-tokens", "40")
        assert tuned.returncode == 0 and base.returncode == 0, tuned.stderr[-1000:] + base.stderr[-1000:]
        tuned_styled += tuned.stdout.strip().splitlines()[-1].lower().startswith("arr matey")
        base_styled += "arr matey" in base.stdout.lower()
    assert tuned_styled == len(UNSEEN) and base_styled == 0


@pytest.mark.slow
def test_bf16_on_a_cpu_learns_as_fp32_does(tmp_path):
    """precision auto picks bf16 on a CPU with bf16 units: the quickstart's eval loss stays within 10% of fp32's and
    the taught style is the same (measured here: 0.139 vs 0.140, the same replies)."""
    from studio.core.hardware import cpu_bf16_units
    from studio.core.runfolder import RunFolder

    if not cpu_bf16_units():
        pytest.skip("this CPU has no bf16 units")
    out = {}
    for precision in ("fp32", "auto"):
        run_dir = tmp_path / precision
        train = studio("train", "examples/quickstart.yaml", "--set", f"output_dir={run_dir}", "--set", "train.max_steps=15",
                       "--set", f"train.precision={precision}")
        assert train.returncode == 0, train.stderr[-2000:]
        events = RunFolder(run_dir).read_events()
        start = next(e for e in events if e["type"] == "start")
        evals = [e["eval_loss"] for e in events if e["type"] == "eval"]
        reply = studio("chat", str(run_dir), "--prompt", UNSEEN[0], "--max-new-tokens", "40").stdout.strip().splitlines()[-1]
        out[precision] = (start["precision"], evals[-1], reply)
    assert out["fp32"][0] == "fp32" and out["auto"][0] == "bf16"
    assert abs(out["auto"][1] - out["fp32"][1]) <= 0.1 * out["fp32"][1] + 0.02, out
    assert out["auto"][2].lower().startswith("arr matey") and out["fp32"][2].lower().startswith("arr matey"), out

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
def test_quickstart_teaches_the_answer_style_in_the_precision_auto_picks_as_fp32_does(quickstart_run, tmp_path):
    """15 LoRA steps of the quickstart teach the pirate style to prompts it never saw, which the base model lacks.
    precision auto picks bf16 on a CPU with bf16 units: there the run is repeated in fp32, and the eval loss of auto
    stays within 10% of fp32's with the same taught style (measured here: 0.139 vs 0.140, the same replies)."""
    from studio.core.hardware import cpu_bf16_units
    from studio.core.runfolder import RunFolder

    data = (REPO / "assets/datasets/pirate_style.jsonl").read_text()
    out = {}
    for precision in ("auto", "fp32") if cpu_bf16_units() else ("auto",):
        if precision == "auto":  # the quickstart as shipped (15 steps, precision auto), trained once for the suite
            run_dir, printed = quickstart_run
        else:
            run_dir = tmp_path / precision
            train = studio("train", "examples/quickstart.yaml", "--set", f"output_dir={run_dir}", "--set",
                           f"train.precision={precision}")
            assert train.returncode == 0, train.stderr[-2000:]
            printed = train.stdout
        assert "finished at step 15" in printed
        events = RunFolder(run_dir).read_events()
        start = next(e for e in events if e["type"] == "start")
        evals = [e["eval_loss"] for e in events if e["type"] == "eval"]
        out[precision] = (start["precision"], evals[-1], run_dir)
    run_dir = out["auto"][2]
    tuned_styled = base_styled = 0
    for prompt in UNSEEN:
        assert prompt not in data
        tuned = studio("chat", str(run_dir), "--prompt", prompt, "--max-new-tokens", "40")
        base = studio("chat", str(run_dir), "--prompt", prompt, "--base", "--max-new-tokens", "40")
        assert tuned.returncode == 0 and base.returncode == 0, tuned.stderr[-1000:] + base.stderr[-1000:]
        tuned_styled += tuned.stdout.strip().splitlines()[-1].lower().startswith("arr matey")
        base_styled += "arr matey" in base.stdout.lower()
    assert tuned_styled == len(UNSEEN) and base_styled == 0
    if "fp32" in out:
        assert out["fp32"][0] == "fp32" and out["auto"][0] == "bf16"
        assert abs(out["auto"][1] - out["fp32"][1]) <= 0.1 * out["fp32"][1] + 0.02, out
        reply = studio("chat", str(out["fp32"][2]), "--prompt", UNSEEN[0], "--max-new-tokens", "40").stdout
        assert reply.strip().splitlines()[-1].lower().startswith("arr matey"), reply

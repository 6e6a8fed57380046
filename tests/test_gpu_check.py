"""The GPU check script runs (tiny shapes, on this machine's device) and reports what the note needs."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_gpu_check_smoke(tmp_path):
    out = tmp_path / "gpu.json"
    res = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--smoke", "--json", str(out)], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    data = json.loads(out.read_text())
    runs = {(r["method"], r["variant"]): r for r in data["runs"]}
    assert set(runs) == {("lora", "default"), ("lora", "checkpointing"), ("qlora", "default")}
    assert runs[("lora", "default")]["attention"] in ("sdpa", "eager")
    for r in runs.values():
        assert r["tokens_per_s"] > 0 and 0 < r["mfu"] < 1 and r["estimate_gb"] > 0 and r["trainable"] < r["parameters"]

"""Training outside the web process, measured: app memory before, during and after a run; stop latency; the time
until a killed training child shows as failed; one process against two (gloo) on the embedded model.

    python benchmarks/bench_launch.py [--steps 12]

The "app" here is this script's process holding a RunStore, as the web app does; it reads the run the way the
page's 1-second poll does (``studio.ui.runview.snapshot``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def until(predicate, timeout=600.0, every=0.05):
    t = time.time()
    while time.time() - t < timeout:
        if predicate():
            return time.time() - t
        time.sleep(every)
    raise TimeoutError


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=12)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from studio.core.config import StudioConfig
    from studio.server.runs import RunStore
    from studio.ui.runview import snapshot

    root = Path(tempfile.mkdtemp(prefix="bench-launch-"))
    data = str(REPO / "examples" / "quickstart.yaml")
    base = StudioConfig.load(data)
    store = RunStore(root / "runs")
    out: dict = {"app_rss_mb_before": round(rss_mb(), 1)}

    # 1. a whole run: the app's memory while a child trains and after it ends
    cfg = base.with_overrides([f"train.max_steps={args.steps}"])
    run = store.submit(cfg, name="memory")
    peak = 0.0
    while store.info(run).state in ("queued", "running"):
        peak = max(peak, rss_mb())
        time.sleep(0.2)
    store.wait(run)
    child = max(e.get("memory_mb") or 0 for e in store.events(run, ("log",)))
    out.update(app_rss_mb_during_max=round(peak, 1), app_rss_mb_after=round(rss_mb(), 1),
               child_peak_rss_mb=child, run_state=store.info(run).state,
               app_maxrss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))

    # 2. stop latency: Stop clicked after the first logged step -> the run is stopped (its model saved)
    run = store.submit(base.with_overrides(["train.max_steps=400"]), name="stop")
    until(lambda: store.events(run, ("log",)))
    t = time.time()
    store.stop(run)
    store.wait(run)
    out["stop_latency_s"] = round(time.time() - t, 2)
    out["stop_state"] = store.info(run).state

    # 3. kill -9 of the child while "the page" polls every second
    run = store.submit(base.with_overrides(["train.max_steps=400"]), name="killed")
    until(lambda: store.events(run, ("log",)))
    pid = json.loads(store.folder(run).launch_file.read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    t = time.time()
    while True:
        view = snapshot(store, run, figure=False)
        if view.state == "failed":
            break
        time.sleep(1.0)
    out["killed_child_shown_after_s"] = round(time.time() - t, 2)
    out["killed_child_message"] = view.status_md.splitlines()[0][:160]
    store.wait(run)

    # 4. one process against two (gloo), same global batch
    for name, procs, batch in (("one_process", 1, 8), ("two_processes", 2, 4)):
        c = base.with_overrides([f"train.max_steps={args.steps}", f"launch.processes={procs}", f"train.batch_size={batch}",
                                 "train.group_by_length=false", "lora.dropout=0"])
        t = time.time()
        r = store.submit(c, name=name)
        store.wait(r)
        logs = store.events(r, ("log",))
        out[name] = {"wall_s": round(time.time() - t, 1), "state": store.info(r).state,
                     "losses": [e["loss"] for e in logs], "tokens_per_s_last": logs[-1]["tokens_per_second"] if logs else None}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

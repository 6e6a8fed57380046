"""A run as a Ray job, on a local Ray head that this test starts and stops (by process id): it trains, its events
reach the run folder, it lists like a local run, Stop stops the job; an unreachable address is refused at once."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio import launchers
from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.server.runs import RunStore

ray_job_submission = pytest.importorskip("ray.job_submission")
psutil = pytest.importorskip("psutil")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    port, dashboard = free_port(), free_port()
    log = tmp_path_factory.mktemp("ray") / "head.log"
    ray = str(Path(sys.executable).with_name("ray"))
    proc = subprocess.Popen([ray, "start", "--head", "--block", f"--port={port}", f"--dashboard-port={dashboard}",
                             "--dashboard-host=127.0.0.1", "--node-ip-address=127.0.0.1", "--num-cpus=2",
                             "--disable-usage-stats"],
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    address = f"http://127.0.0.1:{dashboard}"
    deadline = time.time() + 120
    while True:
        try:
            ray_job_submission.JobSubmissionClient(address)
            break
        except Exception:  # noqa: BLE001 - not up yet
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"the Ray head did not start: {log.read_text()[-2000:]}")
            time.sleep(1)
    yield address
    family = [proc] + psutil.Process(proc.pid).children(recursive=True)
    os.killpg(proc.pid, signal.SIGTERM)
    gone, alive = psutil.wait_procs(family, timeout=10)
    for p in alive:  # by process id, never by name
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=10)


def config(model_dir, data, address, steps):
    return StudioConfig().with_overrides([
        f"model.source={model_dir}", f"data.train={data}", f"train.max_steps={steps}", "train.batch_size=4",
        "data.max_length=64", "lora.r=4", "lora.alpha=8", "launch.backend=ray", f"launch.address={address}"])


def test_a_run_as_a_ray_job_trains_lists_and_stops(ray_head, tiny_model_dir, chat_file, tmp_path):
    store = RunStore(tmp_path / "runs")
    run = store.submit(config(tiny_model_dir, chat_file, ray_head, steps=3))
    info = store.wait(run, 240)
    handle = store.folder(run).read_status()["launch"]
    assert handle["kind"] == "ray" and handle["job_id"], handle
    assert info.state == "finished" and info.has_model, (info, launchers.make("ray").logs(handle)[-3000:])
    assert [e["step"] for e in store.events(run, ("log",))] == [1, 2, 3]
    assert [r.id for r in store.list()] == [run]

    long = store.submit(config(tiny_model_dir, chat_file, ray_head, steps=400))
    deadline = time.time() + 180
    while not store.events(long, ("log",)) and time.time() < deadline:
        time.sleep(0.2)
    assert store.info(long).state == "running"
    store.stop(long)
    stopped = store.wait(long, 120)
    assert stopped.state == "stopped" and stopped.can_resume and stopped.has_model


def test_an_unreachable_cluster_is_refused_before_anything_starts(tiny_model_dir, chat_file, tmp_path):
    store = RunStore(tmp_path / "runs")
    with pytest.raises(StudioError, match="could not reach the Ray cluster"):
        store.submit(config(tiny_model_dir, chat_file, f"http://127.0.0.1:{free_port()}", steps=3))
    assert not any((tmp_path / "runs").iterdir())

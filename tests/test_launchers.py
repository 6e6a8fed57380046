"""A process per run: the run store starts each run as a child process and survives it. Stop escalates from the
run's own stop signal to SIGTERM and SIGKILL of its process group; a child killed by the system shows as failed
with the reason and resumes; a restarted app finds a child that still trains and keeps following it; runs get
their own (simulated) GPUs; bad launch settings are refused before anything starts."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from studio import launchers
from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.launchers.local import LocalLauncher
from studio.core.runfolder import RunFolder
from studio.server.runs import RunStore
from studio.server.scheduler import Devices


def config(model_dir, data, steps=4, **extra):
    sets = [f"model.source={model_dir}", f"data.train={data}", f"train.max_steps={steps}", "train.batch_size=4",
            "data.max_length=64", "lora.r=4", "lora.alpha=8"] + [f"{k.replace('__', '.')}={v}" for k, v in extra.items()]
    return StudioConfig().with_overrides(sets)


def wait_for(predicate, timeout=120.0, every=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def first_log(store, run):
    assert wait_for(lambda: store.events(run, ("log",))), "the run never logged a step"


def child_pid(store, run) -> int:
    assert wait_for(lambda: (store.folder(run).launch_file.exists()))
    return json.loads(store.folder(run).launch_file.read_text())["pid"]


def test_each_run_trains_in_a_process_of_its_own(tiny_model_dir, chat_file, tmp_path):
    store = RunStore(tmp_path / "runs")
    run = store.submit(config(tiny_model_dir, chat_file, steps=3))
    info = store.wait(run, 180)
    assert info.state == "finished" and info.has_model
    handle = json.loads(store.folder(run).launch_file.read_text())
    start = store.events(run, ("start",))[0]
    assert handle["kind"] == "local" and handle["pid"] != os.getpid() and handle["argv"][1:3] == ["-m", "studio.engine"]
    assert (store.folder(run).path / "train.log").exists()  # its output went to a file, not a pipe
    assert start["world_size"] == 1


def test_stop_escalates_to_sigterm_and_sigkill_of_the_process_group(tmp_path):
    # a process that ignores SIGTERM, with a child of its own in the same group
    script = ("import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
              "subprocess.Popen([sys.executable, '-c', 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)']); "
              "time.sleep(300)")
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    time.sleep(1.0)
    group = [int(p) for p in subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()]
    assert len(group) == 2
    launcher = LocalLauncher()
    handle = {"kind": "local", "pid": proc.pid, "pgid": proc.pid, "host": __import__("socket").gethostname()}
    t = time.time()
    launcher.stop(handle, grace=1.0)
    assert proc.wait(10) == -signal.SIGKILL and time.time() - t < 5
    assert wait_for(lambda: not subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True).stdout, 10)


def test_stop_ends_a_run_that_does_not_stop_by_itself(tiny_model_dir, chat_file, tmp_path):
    store = RunStore(tmp_path / "runs", stop_grace=0.0)  # no patience: SIGTERM at once
    run = store.submit(config(tiny_model_dir, chat_file, steps=400, train__save_steps=2))
    first_log(store, run)
    t = time.time()
    store.stop(run)
    info = store.wait(run, 60)
    took = time.time() - t
    assert info.state in ("stopped", "failed") and info.can_resume and took < 30, (info, took)
    print(f"\nstop latency with SIGTERM at once: {took:.1f} s, state {info.state}")


def test_a_child_killed_by_the_system_fails_with_the_reason_and_resumes(tiny_model_dir, chat_file, tmp_path):
    store = RunStore(tmp_path / "runs")
    run = store.submit(config(tiny_model_dir, chat_file, steps=12, train__save_steps=2))
    pid = child_pid(store, run)
    assert wait_for(lambda: RunFolder(store.folder(run).path).last_checkpoint() is not None)
    t = time.time()
    os.kill(pid, signal.SIGKILL)  # what the out-of-memory killer does
    info = store.wait(run, 60)
    print(f"\nkill -9 of the training child: shown as {info.state} after {time.time() - t:.1f} s")
    assert info.state == "failed" and info.can_resume
    assert "killed" in info.message and "out-of-memory" in info.message
    assert "resume" in store.folder(run).read_status()["hint"]
    errors = store.events(run, ("error",))
    assert errors and errors[-1]["exit_code"] == -signal.SIGKILL
    store.resume(run)
    resumed = store.wait(run, 180)
    assert resumed.state == "finished" and resumed.step == 12
    assert store.events(run, ("start",))[-1]["resumed_from"]  # from the last checkpoint, not from scratch


def test_a_restarted_app_finds_a_child_that_still_trains(tiny_model_dir, chat_file, tmp_path):
    root = tmp_path / "runs"
    first = RunStore(root)
    run = first.submit(config(tiny_model_dir, chat_file, steps=400))
    first_log(first, run)
    again = RunStore(root)  # the app after a restart: it did not start this child
    assert again.info(run).state == "running"
    assert run in again._running  # followed
    again.stop(run)
    info = again.wait(run, 120)
    assert info.state == "stopped" and info.has_model


def test_runs_get_their_own_gpus_and_wait_for_free_ones(tiny_model_dir, chat_file, tmp_path):
    store = RunStore(tmp_path / "runs", devices=Devices(gpus=["0", "1"]))  # two simulated GPUs
    runs = [store.submit(config(tiny_model_dir, chat_file, steps=3)) for _ in range(3)]
    infos = [store.wait(r, 240) for r in runs]
    assert all(i.state == "finished" for i in infos), infos
    handles = [json.loads(store.folder(r).launch_file.read_text()) for r in runs]
    assert handles[0]["devices"] == ["0"] and handles[1]["devices"] == ["1"]  # side by side
    starts = [store.events(r, ("start",))[0]["time"] for r in runs]
    ends = [store.events(r, ("end",))[-1]["time"] for r in runs]
    assert starts[1] < ends[0]  # the first two trained at the same time
    assert starts[2] >= min(ends[0], ends[1])  # the third waited for a free GPU
    assert handles[2]["devices"] in (["0"], ["1"])


def test_bad_launch_settings_are_refused_before_anything_starts(tiny_model_dir, chat_file, tmp_path):
    cfg = lambda **kw: config(tiny_model_dir, chat_file, **kw)  # noqa: E731
    with pytest.raises(StudioError, match="4 processes .* 2 GPU|launch.processes=4 but this machine has 2 GPU"):
        launchers.check(cfg(launch__processes=4), gpus=2, cpus=16)
    with pytest.raises(StudioError, match="cannot shard a 4-bit QLoRA"):
        launchers.check(cfg(method="qlora", launch__processes=2, launch__strategy="fsdp"), gpus=2, cpus=16)
    with pytest.raises(StudioError, match="launch.address is empty"):
        launchers.check(cfg(launch__nodes=2), gpus=2, cpus=16)
    with pytest.raises(StudioError, match="inline trains in one process"):
        launchers.check(cfg(launch__backend="inline", launch__processes=2), gpus=2, cpus=16)
    with pytest.raises(StudioError, match="no GPU and 2 CPU cores"):
        launchers.check(cfg(launch__processes=3), gpus=0, cpus=2)
    if __import__("importlib.util").util.find_spec("deepspeed") is None:
        with pytest.raises(StudioError, match="pip install deepspeed"):
            launchers.check(cfg(launch__processes=2, launch__strategy="deepspeed"), gpus=2, cpus=16)
    assert launchers.check(cfg(launch__strategy="fsdp"), gpus=1, cpus=16)  # a warning: one process, no sharding
    store = RunStore(tmp_path / "runs", devices=Devices(gpus=["0"]))
    with pytest.raises(StudioError, match="launch.processes=2"):
        store.submit(cfg(launch__processes=2))
    assert not any((tmp_path / "runs").iterdir())  # nothing was written


def test_a_config_with_relative_data_paths_trains_from_its_run_folder(tiny_model_dir, tmp_path):
    store = RunStore(tmp_path / "runs")
    cfg = StudioConfig.load("examples/quickstart.yaml").with_overrides(  # data.train is relative to examples/
        [f"model.source={tiny_model_dir}", "train.max_steps=2", "data.max_length=64", "lora.r=4"])
    run = store.submit(cfg)
    assert store.wait(run, 180).state == "finished"
    assert os.path.isabs(StudioConfig.load(store.folder(run).config_file).data.train)


def test_a_problem_found_by_the_training_process_is_said_in_the_run_folder(tiny_model_dir, chat_file, tmp_path):
    from studio.engine.entry import main

    run = tmp_path / "run"
    run.mkdir()
    cfg = config(tiny_model_dir, chat_file)
    cfg.data.train = str(tmp_path / "gone.jsonl")  # e.g. the file was deleted while the run waited in the queue
    cfg.save(run / "config.yaml")
    RunFolder(run).write_status(state="queued")
    assert main([str(run)]) == 2
    status = RunFolder(run).read_status()
    assert status["state"] == "failed" and "file not found" in status["message"] and "gone.jsonl" in status["message"]
    assert RunFolder(run).read_events(("error",))[-1]["message"] == status["message"]

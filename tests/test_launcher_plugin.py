"""A launcher is a plug-in: the built-in ones are found in studio/launchers/, one defined here joins with
``register`` and runs go through it via the run store, with no file of the studio naming it. A launcher says
whether its runs take a slot of this machine's devices: a Ray job (its cluster schedules it) takes none, so CPU
runs queued here go on while it trains."""

import threading
import time

import pytest

from studio import launchers
from studio.core.config import StudioConfig
from studio.core.errors import StudioError
from studio.launchers.inline import InlineLauncher
from studio.launchers.local import LocalLauncher
from studio.launchers.ray import RayLauncher
from studio.core.runfolder import RunFolder
from studio.server.runs import RunStore
from studio.server.scheduler import Devices


def config(model_dir, data, steps, backend):
    return StudioConfig().with_overrides([f"model.source={model_dir}", f"data.train={data}", f"train.max_steps={steps}",
                                          "train.batch_size=4", "data.max_length=64", "lora.r=4", "lora.alpha=8",
                                          f"launch.backend={backend}"])


def busy_cpu():
    """A CPU machine with one run at a time, whose one slot someone else holds."""
    devices = Devices(gpus=[], cpu_runs=1)
    devices.reserve("someone-else", [])
    return devices


class Elsewhere(InlineLauncher):
    """Trains through the inline path, but under a kind of its own, and like a cluster job it takes no local slot."""

    kind = "elsewhere"
    local_slot = False


class FakeCluster(LocalLauncher):
    """A Ray stand-in: trains in a process of its own here, and gives the Ray launcher's answer about local slots."""

    kind = "fake_cluster"
    local_slot = RayLauncher.local_slot


@pytest.fixture
def registered():
    added = []

    def add(launcher):
        added.append(launchers.register(launcher).kind)
        return launcher

    yield add
    for kind in added:
        launchers.unregister(kind)


def test_the_built_in_launchers_are_found_and_an_unknown_kind_is_one_clear_error(tiny_model_dir, chat_file):
    assert launchers.kinds()[:3] == ["local", "inline", "ray"]
    assert launchers.make("ray").local_slot is False and launchers.make("local").local_slot is True
    cfg = config(tiny_model_dir, chat_file, 2, "nope")  # the config takes any kind: the registry says what is known
    with pytest.raises(StudioError, match="unknown backend 'nope'; use one of local, inline, ray"):
        launchers.check(cfg, gpus=0, cpus=2)
    with pytest.raises(ValueError, match="Python identifier"):
        launchers.register(type("Bad", (InlineLauncher,), {"kind": "no good"}))


def test_a_launcher_defined_in_a_test_trains_a_run_through_the_run_store(registered, tiny_model_dir, chat_file, tmp_path):
    registered(Elsewhere)
    assert "elsewhere" in launchers.kinds()
    store = RunStore(tmp_path / "runs", devices=busy_cpu())  # the one local slot is taken: only a run elsewhere starts
    run = store.submit(config(tiny_model_dir, chat_file, 2, "elsewhere"))
    info = store.wait(run, 180)
    assert info.state == "finished" and info.has_model and info.step == 2, info
    handle = store.folder(run).read_status()["launch"]
    assert handle["kind"] == "elsewhere" and handle["devices"] == []
    assert store.devices.busy() == {"someone-else": []}
    with pytest.raises(StudioError, match="launch.backend=elsewhere trains in one process"):  # its own checks
        store.submit(config(tiny_model_dir, chat_file, 2, "elsewhere").with_overrides(["launch.processes=2"]))


def test_a_ray_run_holds_no_local_slot_while_queued_cpu_runs_go_on(registered, tiny_model_dir, chat_file, tmp_path):
    registered(FakeCluster)
    store = RunStore(tmp_path / "runs", devices=Devices(gpus=[], cpu_runs=1))
    long = store.submit(config(tiny_model_dir, chat_file, 400, "fake_cluster"), name="cluster")
    deadline = time.time() + 180
    while not store.events(long, ("log",)) and time.time() < deadline:
        time.sleep(0.1)
    assert store.info(long).state == "running" and store.devices.busy() == {}
    here = [store.submit(config(tiny_model_dir, chat_file, 2, "inline"), name=f"here-{i}") for i in range(2)]
    try:
        for run in here:
            assert store.wait(run, 180).state == "finished"
        assert store.info(long).state == "running"  # the CPU runs took their turns while the cluster's run trained
        starts = [store.events(r, ("start",))[0]["time"] for r in here]
        ends = [store.events(r, ("end",))[0]["time"] for r in here]
        assert ends[0] <= starts[1]  # and still one at a time among themselves
    finally:
        store.stop(long)
        assert store.wait(long, 120).state == "stopped"


def test_runs_inside_one_process_take_turns(tiny_model_dir, chat_file, tmp_path):
    """Two trainers at once in one process share accelerate's state, and setting up the second breaks the first:
    in-process runs wait for each other even where the scheduler has two slots."""
    store = RunStore(tmp_path / "runs", launcher="inline", devices=Devices(gpus=[], cpu_runs=2))
    runs = [store.submit(config(tiny_model_dir, chat_file, steps, "inline"), name=f"r{steps}") for steps in (12, 2)]
    infos = [store.wait(run, 180) for run in runs]
    assert [i.state for i in infos] == ["finished", "finished"], [i.message for i in infos]
    spans = [(store.events(r, ("start",))[0]["time"], store.events(r, ("end",))[0]["time"]) for r in runs]
    assert spans[1][0] >= spans[0][1] or spans[0][0] >= spans[1][1]  # one after the other


class Followed(InlineLauncher):
    """A cluster job found again after a restart: alive until the test says it ended."""

    kind = "followed_cluster"
    local_slot = False
    ended = threading.Event()

    def can_adopt(self, handle):
        return True

    def alive(self, handle):
        return not self.ended.is_set()


def test_a_cluster_run_found_after_a_restart_holds_no_local_slot(registered, tmp_path):
    registered(Followed)
    root = tmp_path / "runs"
    folder = RunFolder(root / "r1")
    folder.path.mkdir(parents=True)
    StudioConfig().save(folder.config_file)
    folder.write_status(state="running", step=1)
    folder.write_launch({"kind": "followed_cluster", "job_id": "j1", "devices": [], "launched": time.time()})
    devices = Devices(gpus=[], cpu_runs=1)
    store = RunStore(root, devices=devices)  # the app after a restart
    try:
        assert "r1" in store._running and store.info("r1").state == "running"  # followed
        assert devices.busy() == {} and devices.acquire("next") is not None  # its slot is free for a run here
    finally:
        Followed.ended.set()
    assert store.wait("r1", 30).state == "failed"  # it ended without a final word: said so


def test_the_policy_offers_a_listed_plug_in_launcher_and_never_one_inside_the_web_process(registered, tmp_path):
    from studio.core.config import LaunchConfig
    from studio.launchers.base import Launcher
    from studio.server.policy import Policy

    registered(type("RemoteCluster", (Launcher,), {"kind": "remote_cluster", "local_slot": False}))
    registered(Elsewhere)  # trains through the inline path: inside the calling process
    path = tmp_path / "policy.yaml"
    path.write_text("backends: [local, remote_cluster]\n")
    policy = Policy.load(path)
    assert policy.allowed_backends(shared=True) == ["local", "remote_cluster"]
    path.write_text("backends: [local, elsewhere]\n")
    with pytest.raises(StudioError, match="elsewhere trains inside the web server's own process"):
        Policy.load(path)
    store = RunStore(tmp_path / "runs", devices=busy_cpu(), policy=policy)
    with pytest.raises(StudioError, match="launch.backend=elsewhere trains inside the web server's own process"):
        store.for_user("ann").place(LaunchConfig(backend="elsewhere"))
    launch = LaunchConfig(backend="remote_cluster", address="http://10.0.0.1:1")
    store.for_user("ann").place(launch)
    assert launch.address == ""  # only a Ray run gets an address: the operator's

"""The device scheduler, on simulated devices: own GPUs per run, waiting for k free GPUs, sharing when asked,
CPU turns, and devices held by runs found again after a restart."""

from studio.server.scheduler import Devices


def test_each_run_gets_its_own_gpus_and_waits_for_enough():
    d = Devices(gpus=["0", "1", "2", "3"])
    a = d.acquire("a", 1)
    b = d.acquire("b", 2)
    assert a.gpus == ["0"] and b.gpus == ["1", "2"]
    assert a.env() == {"CUDA_VISIBLE_DEVICES": "0"} and b.env() == {"CUDA_VISIBLE_DEVICES": "1,2"}
    assert d.acquire("c", 2) is None  # only GPU 3 is free
    assert d.acquire("c", 1).gpus == ["3"]
    d.release("b")
    assert d.acquire("e", 2).gpus == ["1", "2"]
    assert d.acquire("a", 1).gpus == ["0"]  # asking again gives the same grant


def test_small_runs_share_a_gpu_only_when_the_estimates_fit():
    gb = 2**30
    d = Devices(gpus=["0"], gpu_memory=24 * gb, share=True)
    assert d.acquire("a", 1, memory=10 * gb).gpus == ["0"]
    assert d.acquire("b", 1, memory=10 * gb).gpus == ["0"]  # 20 of 24 GB
    assert d.acquire("c", 1, memory=10 * gb) is None  # would be 30
    assert d.acquire("big", 2, memory=1 * gb) is None  # several GPUs are never shared
    assert d.acquire("unknown", 1, memory=0) is None  # no estimate, no sharing
    off = Devices(gpus=["0"], gpu_memory=24 * gb, share=False)
    off.acquire("a", 1, memory=1 * gb)
    assert off.acquire("b", 1, memory=1 * gb) is None  # sharing is off by default


def test_cpu_runs_take_turns_unless_raised():
    d = Devices(gpus=[])
    assert d.acquire("a").gpus == [] and d.acquire("a").env() == {"CUDA_VISIBLE_DEVICES": ""}
    assert d.acquire("b") is None
    d.release("a")
    assert d.acquire("b") is not None
    two = Devices(gpus=[], cpu_runs=2)
    assert two.acquire("a") and two.acquire("b") and two.acquire("c") is None


def test_cpu_runs_at_once_share_the_cores(monkeypatch):
    import studio.server.scheduler as scheduler

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(scheduler, "cpu_cores", lambda: 8)
    assert "OMP_NUM_THREADS" not in Devices(gpus=[]).acquire("alone").env()  # one at a time: every core
    env = Devices(gpus=[], cpu_runs=2).acquire("a").env()
    assert env["OMP_NUM_THREADS"] == "4" and env["MKL_NUM_THREADS"] == "4"
    assert Devices(gpus=[], cpu_runs=3).acquire("a").env()["OMP_NUM_THREADS"] == "2"
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the operator's own setting wins
    assert "OMP_NUM_THREADS" not in Devices(gpus=[], cpu_runs=2).acquire("a").env()


def test_runs_found_after_a_restart_keep_their_gpus():
    d = Devices(gpus=["0", "1"])
    d.reserve("old", ["1"])
    assert d.acquire("new", 2) is None and d.acquire("new", 1).gpus == ["0"]


def test_the_device_list_from_the_environment(monkeypatch):
    monkeypatch.setenv("STUDIO_GPUS", "0,1,2")
    monkeypatch.setenv("STUDIO_SHARE_GPUS", "1")
    monkeypatch.setenv("STUDIO_GPU_MEMORY_GB", "80")
    d = Devices.detect()
    assert d.gpus == ["0", "1", "2"] and d.share and d.gpu_memory == 80 * 2**30
    monkeypatch.setenv("STUDIO_GPUS", "none")
    monkeypatch.setenv("STUDIO_CPU_RUNS", "3")
    d = Devices.detect()
    assert d.gpus == [] and d.cpu_runs == 3 and "CPU" in d.describe()


def test_a_run_its_cluster_schedules_takes_no_local_slot():
    from studio.core.config import StudioConfig
    from studio.launchers.ray import RayLauncher, _gpus

    cpu = Devices(gpus=[], cpu_runs=1)
    job = cpu.acquire("ray-run", 1, launcher=RayLauncher())
    assert job.gpus == [] and cpu.busy() == {}  # the Ray launcher says its runs take no slot here
    assert cpu.acquire("here", 1) is not None and cpu.acquire("here-too", 1) is None  # CPU runs take turns as before
    config = StudioConfig().with_overrides(["launch.processes=2"])
    assert _gpus(config, job.env()) == 0  # a CPU studio's Ray runs ask their cluster for no GPU, as before
    gpu = Devices(gpus=["0", "1"])
    job = gpu.acquire("ray-run", 2, launcher=RayLauncher())
    assert gpu.busy() == {} and _gpus(config, job.env()) == 2  # a GPU studio's ask for launch.processes GPUs
    assert gpu.acquire("here", 2).gpus == ["0", "1"]

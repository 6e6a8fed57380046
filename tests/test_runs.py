"""The run store (runs trained inline here; tests/test_launchers.py covers a process per run): background runs, a
queue, stop, and runs that survive a restart of the app."""

import json

from studio.core.config import StudioConfig
from studio.core.runfolder import RunFolder
from studio.server.runs import RunStore


def config(model_dir, data, steps=4):
    return StudioConfig().with_overrides([f"model.source={model_dir}", f"data.train={data}", f"train.max_steps={steps}",
                                          "train.batch_size=4", "data.max_length=64", "lora.r=4", "lora.alpha=8"])


def test_background_runs_queue_and_finish(tiny_model_dir, chat_file, tmp_path):
    store = RunStore(tmp_path / "runs", launcher="inline")
    a = store.submit(config(tiny_model_dir, chat_file), name="first", owner="ann")
    b = store.submit(config(tiny_model_dir, chat_file), name="second", owner="bob")
    assert store.info(b).state in ("queued", "running")
    assert store.wait(a, 120).state == "finished" and store.wait(b, 120).state == "finished"
    starts = [store.events(r, ("start",))[0]["time"] for r in (a, b)]
    ends = [store.events(r, ("end",))[0]["time"] for r in (a, b)]
    assert ends[0] <= starts[1]  # one at a time, in order
    assert [r.id for r in store.list(owner="ann")] == [a]
    assert {r.id for r in store.list()} == {a, b}
    assert store.info(a).has_model and store.info(a).step == 4


def test_stop_then_resume(tiny_model_dir, chat_file, tmp_path):
    store = RunStore(tmp_path / "runs", launcher="inline")
    run = store.submit(config(tiny_model_dir, chat_file, steps=400))
    for _ in range(600):
        if store.events(run, ("log",)):
            break
        __import__("time").sleep(0.1)
    store.stop(run)
    info = store.wait(run, 120)
    assert info.state == "stopped" and info.can_resume and 0 < info.step < 400


def test_a_restart_shows_cut_off_runs_as_interrupted(tiny_model_dir, chat_file, tmp_path):
    root = tmp_path / "runs"
    store = RunStore(root, launcher="inline")
    run = store.submit(config(tiny_model_dir, chat_file, steps=3))
    store.wait(run, 120)
    # pretend the app died mid-run: the status still says running, written by a process that is gone
    status = RunFolder(root / run).status_file
    data = json.loads(status.read_text())
    data.update(state="running", pid=999999999)
    status.write_text(json.dumps(data))
    fresh = RunStore(root, launcher="inline")  # the app after a restart
    info = fresh.info(run)
    assert info.state == "interrupted" and info.can_resume
    fresh.resume(run)
    assert fresh.wait(run, 120).state == "finished"


def test_people_take_turns_in_the_queue(tiny_model_dir, chat_file, tmp_path):
    from studio.ui.runview import snapshot

    store = RunStore(tmp_path / "runs", launcher="inline")
    first = store.submit(config(tiny_model_dir, chat_file, steps=400), name="ann-long", owner="ann")
    for _ in range(600):
        if store.events(first, ("log",)):
            break
        __import__("time").sleep(0.1)
    ann = [store.submit(config(tiny_model_dir, chat_file, steps=2), name=f"ann-{i}", owner="ann") for i in range(3)]
    bob = store.submit(config(tiny_model_dir, chat_file, steps=2), name="bob", owner="bob")
    # ann queued three before bob asked, but ann is training now: bob's first run goes next
    assert [store.queue_position(r) for r in [bob] + ann] == [1, 2, 3, 4]
    assert "number **1** in the queue" in snapshot(store, bob, figure=False).status_md
    store.stop(first)
    for r in ann + [bob]:
        assert store.wait(r, 180).state == "finished"
    starts = {r: store.events(r, ("start",))[0]["time"] for r in ann + [bob]}
    assert sorted(starts, key=starts.get) == [bob] + ann


def test_events_are_read_incrementally_and_a_half_written_line_waits(tmp_path):
    folder = RunFolder(tmp_path / "run")
    folder.emit({"type": "log", "step": 1})
    events, offset = folder.read_events_from(0)
    assert [e["step"] for e in events] == [1] and offset == folder.events_file.stat().st_size
    folder.emit({"type": "log", "step": 2})
    with open(folder.events_file, "a", encoding="utf-8") as fh:
        fh.write('{"type": "log", "st')  # a writer caught mid-line
    events, offset2 = folder.read_events_from(offset)
    assert [e["step"] for e in events] == [2]  # only the new, complete line
    with open(folder.events_file, "a", encoding="utf-8") as fh:
        fh.write('ep": 3}\n')
    assert [e["step"] for e in folder.read_events_from(offset2)[0]] == [3]
    assert [e["step"] for e in folder.read_events(("log",))] == [1, 2, 3]


def test_queued_runs_come_back_in_their_place_after_a_restart(tiny_model_dir, chat_file, tmp_path):
    from studio.server.scheduler import Devices

    def busy_devices():
        devices = Devices(gpus=[], cpu_runs=1)
        devices.reserve("someone-else", [])  # a run that holds the one device
        return devices

    root = tmp_path / "runs"
    store = RunStore(root, launcher="inline", devices=Devices(gpus=[], cpu_runs=1))
    served = store.submit(config(tiny_model_dir, chat_file, steps=1), name="ann-0", owner="ann")
    assert store.wait(served, 120).state == "finished"  # ann was served last: bob's first run goes before hers
    store.devices.reserve("someone-else", [])
    queued = [store.submit(config(tiny_model_dir, chat_file, steps=1), name=n, owner=o)
              for n, o in (("ann-1", "ann"), ("ann-2", "ann"), ("bob-1", "bob"), ("ann-3", "ann"))]
    resumed = store.submit(config(tiny_model_dir, chat_file, steps=1), name="cy-1", owner="cy")
    store.stop(resumed)
    store.resume(resumed)
    order = sorted(queued + [resumed], key=store.queue_position)
    assert [r.split("-", 2)[-1] for r in order] == ["bob-1", "cy-1", "ann-1", "ann-2", "ann-3"]
    store.close()  # the app stops; the runs stay queued in their folders

    devices = busy_devices()
    fresh = RunStore(root, launcher="inline", devices=devices)  # the app after a restart
    assert sorted(queued + [resumed], key=fresh.queue_position) == order
    assert all(fresh.info(r).state == "queued" for r in order)
    assert fresh.folder(resumed).read_status()["resume"] is True
    devices.release("someone-else")  # the queue looks again within two seconds
    for r in order:
        assert fresh.wait(r, 180).state == "finished", fresh.info(r).message
    starts = {r: fresh.events(r, ("start",))[-1]["time"] for r in order}
    assert sorted(starts, key=starts.get) == order

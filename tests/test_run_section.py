"""A task adds a section of its own to the Runs tab's view of its runs (``Task.run_section``): a grpo run shows its
latest sampled replies and their rewards, a chat run shows none, and a task defined here, unknown to the studio,
shows its own. Run folders written here (no training)."""

import json
import time

import pytest

from studio import tasks
from studio.core.config import StudioConfig
from studio.core.runfolder import RunFolder
from studio.tasks.base import RunSection, Task

gradio_client = pytest.importorskip("gradio_client")


def samples(step: int, reply: str) -> dict:
    return {"type": "samples", "step": step, "samples": [
        {"prompt": "What is 2 plus 2?", "reply": reply, "rewards": {"numeric_match": 1.0, "length": 0.5}, "total": 1.25},
        {"prompt": "Name a <b>colour</b> | please", "reply": "Blue.", "rewards": {"numeric_match": 0.0}, "total": 0.0}]}


def make_run(root, name: str, task: str, events: list[dict]) -> str:
    folder = RunFolder(root / name)
    folder.path.mkdir(parents=True)
    StudioConfig.from_dict({"task": task, "output_dir": str(folder.path)}).save(folder.config_file)
    for e in [{"type": "start", "max_steps": 4, "model": "m", "method": "lora", "device": "cpu", "task": task}, *events]:
        folder.emit(e)
    folder.write_status(state="finished", step=4, max_steps=4, started=time.time())
    return name


class TallyTask(Task):
    """A task the studio does not ship: its runs' view counts the ``tally`` events they logged."""

    name = "tally"
    title = "Tally (a test task)"

    def run_section(self, events):
        counts = [e["count"] for e in events if e.get("type") == "tally"]
        return RunSection("Tallies", f"{len(counts)} tallies logged", ("count",), tuple((c,) for c in counts))


@pytest.fixture
def tally():
    task = tasks.register(TallyTask())
    yield task
    tasks.unregister(task.name)


def test_the_runs_tab_shows_what_each_runs_task_adds(tally, tmp_path):
    from studio.ui.app import build_app

    root = tmp_path / "runs"
    make_run(root, "grpo-run", "grpo", [{"type": "log", "step": 2, "loss": 0.1}, samples(2, "Five."),
                                        {"type": "log", "step": 4, "loss": 0.1}, samples(4, "It is 4")])
    make_run(root, "grpo-early", "grpo", [])
    make_run(root, "chat-run", "chat", [{"type": "log", "step": 4, "loss": 0.5}])
    make_run(root, "tally-run", "tally", [{"type": "tally", "count": 7}, {"type": "tally", "count": 9}])

    demo = build_app(root)
    show = next(d.fn for d in demo.fns.values() if d.api_name == "show_run")
    *_, note, table = show("grpo-run")
    assert note["visible"] and "Sampled replies while training" in note["value"] and "step 4" in note["value"]
    assert table["visible"] and table["value"]["headers"] == ["prompt", "reply", "rewards", "total"]
    assert table["value"]["data"][0] == ["What is 2 plus 2?", "It is 4", "numeric_match 1, length 0.5", 1.25]  # the latest
    *_, note, table = show("grpo-early")  # no samples yet: the line says so, no table
    assert note["visible"] and "No sampled replies yet" in note["value"] and not table["visible"]
    *_, note, table = show("chat-run")
    assert not note["visible"] and not table["visible"]
    *_, note, table = show("tally-run")
    assert "Tallies" in note["value"] and "2 tallies logged" in note["value"] and table["value"]["data"] == [[7], [9]]

    tally.run_section = lambda events: 1 / 0  # a section that fails leaves the rest of the view
    shown = show("tally-run")
    assert "ZeroDivisionError" in shown[-2]["value"] and "finished" in shown[0] and not shown[-1]["visible"]

    demo.queue()
    demo.launch(prevent_thread_lock=True, server_port=None, quiet=True)
    try:  # as the browser gets it
        client = gradio_client.Client(demo.local_url, verbose=False)
        client.predict(None, None, api_name="/list_runs")
        served = client.predict("grpo-run", api_name="/show_run")
        assert "It is 4" in json.dumps(served[-1]) and "step 4" in served[-2]["value"]
    finally:
        demo.close()

"""A task owns its page and its settings: one defined here, with a setting of its own, a try panel and a chart panel
(this module is the panel), shows them in the studio's page without any file of the studio knowing about it. Also:
the task settings sections of the built-in tasks (``preference.beta``, ``classification.class_weights``) and their old
keys (``train.beta``, ``train.class_weights``), still read with a note. Fast: nothing is trained here."""

import json
import logging
from dataclasses import dataclass

import gradio as gr
import pytest

from studio import tasks
from studio.core.config import StudioConfig, knob
from studio.tasks.base import ChartPanel, Task

# ---- the try panel: this module (a panel module holds page code only; the page imports it by name) ----------
TITLE = "Shout at it"
TAB_ID = "shout-panel"
WHERE = "the **Shout at it** tab"


def build(ctx):
    gr.Markdown("Type something and the tuned model shouts it back.", elem_id="shout-intro")
    pick = gr.Dropdown(choices=[], label="Shouting run", elem_id="shout-pick")
    text = gr.Textbox(label="Say something", elem_id="shout-text")
    reply = gr.Textbox(label="Shouted back", elem_id="shout-reply")

    def runs(request: gr.Request = None):
        return gr.update(choices=ctx.run_choices(request, panel=__name__, with_model=False))

    def shout(value):
        return (value or "").upper()

    ctx.on_load.append((runs, [], [pick]))
    text.submit(shout, text, reply, api_name="shout")
    return {"pick": pick, "text": text, "reply": reply}


# ---- the task, its settings section and its chart panel ---------------------------------------------------
@dataclass
class LoudnessSettings:
    MOVED_FROM = {"train.volume": "volume"}
    volume: int = knob(5, "Volume", "How loud the answers are.", min=1, max=11, step=1)


class LoudTask(Task):
    name = "loud"
    title = "Loud answers (a test task)"
    help = "answer loudly"
    data_formats = ("text",)
    try_panel = __name__
    chats = False
    settings, settings_section = LoudnessSettings, "loudness"
    chart_panels = (ChartPanel("Volume", metrics=("volume_level",), shares=("loud_share",)),)
    headline_metric, headline_percent = "loud_share", True


@pytest.fixture
def loud():
    task = tasks.register(LoudTask())
    yield task
    tasks.unregister(task.name)


def test_the_task_setting_is_a_config_section(loud):
    cfg = StudioConfig.from_dict({"task": "loud", "loudness": {"volume": 7}})
    assert cfg.loudness.volume == 7 and "loudness:\n  volume: 7" in cfg.to_yaml()
    assert cfg.with_overrides(["loudness.volume=9"]).loudness.volume == 9
    old = StudioConfig.from_dict({"task": "loud", "train": {"volume": 3}})  # where it used to live
    assert old.loudness.volume == 3 and any("loudness.volume" in n for n in old.notes)
    with pytest.raises(Exception, match="loudness.volume: 12 is above the maximum 11"):
        StudioConfig.from_dict({"loudness": {"volume": 12}, "data": {"train": "x"}}).validate(False)
    assert "loudness" not in StudioConfig().to_yaml()  # a chat run's file lists no other task's defaults


def test_the_page_shows_the_tasks_panel_setting_and_chart(loud, tmp_path):
    from studio.core.runfolder import RunFolder
    from studio.ui import panels, runview
    from studio.ui.app import build_app
    from studio.ui.charts import training_figure

    run = tmp_path / "runs" / "loud-run"  # a run of the task, as its folder says
    run.mkdir(parents=True)
    StudioConfig.from_dict({"task": "loud", "output_dir": str(run)}).save(run / "config.yaml")
    RunFolder(run).write_status(state="finished", step=2, max_steps=2)

    demo = build_app(tmp_path / "runs")
    ctx = demo.studio
    # the try panel is a tab of its own, after the built-in ones, built by this module
    ids = list(ctx.tabs_by_id)
    assert ids.index("chat") < ids.index("classify") < ids.index(TAB_ID) < ids.index("evaluate")
    assert ctx.tabs_by_id[TAB_ID].label == TITLE and set(ctx.parts[TAB_ID]) == {"pick", "text", "reply"}
    assert ctx.run_choices(None, panel=__name__) == [(ctx.run_choices(None, panel=__name__)[0][0], "loud-run")]
    assert "loud-run" not in [c[1] for c in ctx.run_choices(None, panel="studio.ui.chat_tab")]
    assert panels.where("loud") == WHERE
    info = ctx.runs(None).info("loud-run")
    assert WHERE in runview.status_markdown(info, [])

    # the setting is a widget of the Train tab, shown only while the task is chosen
    train = ctx.parts["train"]
    volume = train["widgets"]["loudness.volume"]
    assert volume.label == "Volume" and volume.value == 5 and "loudness.volume" in train["keys"]
    row = train["task_settings"]["loudness"]
    assert row.visible is False and train["task_settings"]["preference"].visible is False
    show = next(d for d in demo.fns.values() if row in d.outputs and train["widgets"]["task"] in d.inputs)
    shown = show.fn("loud")
    assert [u["visible"] for u in shown] == [sec == "loudness" for sec in train["task_settings"]]
    assert [u["visible"] for u in show.fn("preference")] == [sec == "preference" for sec in train["task_settings"]]

    # what Start would submit carries the setting in its section
    from studio.ui.widgets import build_config

    values = {k: getattr(w, "value", None) for k, w in train["widgets"].items()}
    cfg = build_config(dict(values, **{"loudness.volume": 8}), "smollm2", {"path": "x.jsonl"}, task="loud")
    assert cfg.task == "loud" and cfg.loudness.volume == 8

    # the chart draws the task's panel under the loss, and the run view its headline figure
    events = [{"type": "start", "task": "loud", "max_steps": 2},
              {"type": "log", "step": 1, "loss": 2.0, "volume_level": 3.0, "loud_share": 0.5},
              {"type": "eval", "step": 2, "eval_loss": 1.5, "eval_volume_level": 4.0, "eval_loud_share": 0.75}]
    fig = training_figure(events)
    names = {t.name: t for t in fig.data}
    assert {"volume level", "eval volume level", "loud share", "eval loud share"} <= set(names)
    assert names["volume level"].yaxis != names["train loss"].yaxis  # a row of its own
    assert "loud share 75%" in runview.status_markdown(info, events)

    # the page is served with the panel's endpoint working
    demo.queue()
    demo.launch(prevent_thread_lock=True, server_port=None, quiet=True)
    try:
        from gradio_client import Client

        assert Client(demo.local_url, verbose=False).predict("hello", api_name="/shout") == "HELLO"
    finally:
        demo.close()


def test_builtin_task_sections_and_their_old_keys(caplog):
    cfg = StudioConfig()
    assert cfg.preference.beta == 0.1 and cfg.classification.class_weights is False
    assert tasks.get("preference").section == tasks.get("feedback").section == "preference"
    assert tasks.get("classification").section == "classification" and tasks.get("chat").section == ""
    with caplog.at_level(logging.WARNING, logger="studio.config"):
        old = StudioConfig.from_dict({"task": "preference", "train": {"beta": 0.25, "class_weights": True}})
    assert old.preference.beta == 0.25 and old.classification.class_weights is True
    assert any("train.beta is now preference.beta" in n for n in old.notes)
    assert any("train.class_weights is now classification.class_weights" in n for n in old.notes)
    assert "train.beta is now preference.beta" in caplog.text or old.notes  # logged once per process
    assert "beta" not in old.to_dict()["train"] and "preference:\n  beta: 0.25" in old.to_yaml()
    over = StudioConfig.from_dict({"task": "feedback"}).with_overrides(["train.beta=0.3"])  # --set, the old key
    assert over.preference.beta == 0.3 and any("preference.beta" in n for n in over.notes)
    assert over.with_overrides(["preference.beta=0.4"]).preference.beta == 0.4


def test_an_old_run_folder_with_train_beta_loads_lists_and_warns(tmp_path):
    from studio.core.run import open_run
    from studio.server.runs import RunStore

    run = tmp_path / "runs" / "old-dpo"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("model: {source: smollm2}\ntask: preference\nmethod: lora\n"
                                     "data: {train: pairs.jsonl}\ntrain: {max_steps: 3, beta: 0.2}\n"
                                     f"output_dir: {run}\n", encoding="utf-8")
    (run / "status.json").write_text(json.dumps({"state": "finished", "step": 3, "max_steps": 3}))
    folder, cfg = open_run(run)
    assert cfg.preference.beta == 0.2 and cfg.notes
    assert "beta 0.2" in " ".join(tasks.get("preference").card_data_lines(cfg))  # the export's model card
    info = RunStore(tmp_path / "runs").info("old-dpo")
    assert info.task == "preference" and info.state == "finished"


def test_the_chart_of_a_run_whose_task_is_not_installed_still_draws_its_numbers():
    from studio.ui.charts import training_figure

    events = [{"type": "start", "task": "gone", "chart_metrics": ["reward_margin", "reward_accuracy"]},
              {"type": "log", "step": 1, "loss": 1.0, "reward_margin": 0.2, "reward_accuracy": 0.5}]
    assert {"reward margin", "reward accuracy"} <= {t.name for t in training_figure(events).data}

"""A task and its data format are plug-ins, end to end: a data format, a task that trains on it, the task's own
setting, its try panel and its chart panel are all defined in this file; the data file is detected on intake,
``python -m studio train`` trains it (on a tiny random model), ``eval`` scores it, ``export`` writes its folder and
the page shows the setting, the panel and the chart of the trained run, without any file of the studio knowing
about it. Everything registered here is taken out again at the end."""

import json
import sys
import types
from dataclasses import dataclass

import pytest

from studio import tasks
from studio.cli.main import main
from studio.core import models
from studio.core.config import knob
from studio.core.loading import load_for_training
from studio.core.params import count_parameters
from studio.core.setup import TaskSetup
from studio.data import formats, load_dataset
from studio.data.formats import DataFormat, RowError, as_text
from studio.tasks.base import ChartPanel, Task

from conftest import write_jsonl
from test_task_plugin import shouted_scores

PANEL = "megaphone_try_panel"  # the try panel's module, by name (made in the test, below)


# ---- the data format: one column of calls, learned as plain text ------------------------------------------------
class CalloutFormat(DataFormat):
    name = "callout"
    required = ("call",)
    aliases = {"call": ("call", "callout", "holler")}
    rank = 5  # before the built-in formats, which read one text column as plain text
    conversational = False
    saved_columns = {"call": "text"}

    def matches(self, rows, names) -> bool:
        return any(a in names for a in self.column_names("call"))

    def normaliser(self, cols):
        col = cols["call"]

        def norm(row, skipped):
            call = as_text(row.get(col), col)
            if not call.strip():
                raise RowError(f"'{col}' is blank: there is nothing to call out")
            return {"text": call}

        return norm

    def preview_headers(self):
        return ["call"]

    def preview_row(self, rec, cut):
        return [cut(rec["text"])]

    def measured_text(self, rec, tokenizer):
        return rec["text"]


# ---- the task, its settings section and its chart panel ---------------------------------------------------------
@dataclass
class MegaphoneSettings:
    repeat: int = knob(1, "Repeat", "How many times each call is trained on per epoch.", min=1, max=4, step=1)


class MegaphoneTask(Task):
    """Continue calls in capitals: a causal LM trained on whole texts, scored by loss and next-token hits."""

    name = "megaphone"
    title = "Megaphone (a test task)"
    help = "continue calls in capitals"
    data_formats = ("callout",)
    try_panel = PANEL
    chats = False
    settings, settings_section = MegaphoneSettings, "megaphone"
    chart_panels = (ChartPanel("Hits", shares=("hit_rate",)),)
    headline_metric, headline_percent = "hit_rate", True
    metrics = {"eval_loss": False, "hit_rate": True}
    metric_labels = {"hit_rate": "Hit rate"}
    purpose = "calling out"
    template_lengths = False

    def setup(self, config, hw, train_records, eval_records):
        import numpy as np

        tok = models.load_tokenizer(config.model.source)

        def encode(records):
            out = []
            for r in records:
                ids = tok(r["text"].upper() + tok.eos_token, truncation=True, max_length=config.data.max_length)["input_ids"]
                out.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": list(ids)})
            return out

        def collate(batch):
            import torch

            n = max(len(b["input_ids"]) for b in batch)
            pad = lambda seq, v: seq + [v] * (n - len(seq))  # noqa: E731
            return {"input_ids": torch.tensor([pad(b["input_ids"], tok.pad_token_id) for b in batch]),
                    "attention_mask": torch.tensor([pad(b["attention_mask"], 0) for b in batch]),
                    "labels": torch.tensor([pad(b["labels"], -100) for b in batch])}

        def hit_rate(pred):
            logits, labels = pred.predictions, pred.label_ids
            guess, gold = np.argmax(logits[:, :-1], -1), labels[:, 1:]
            mask = gold != -100
            return {"hit_rate": float((guess == gold)[mask].mean())}

        repeat = config.megaphone.repeat  # the task's own setting: what it trains on
        model = load_for_training(config, hw, lambda **kw: models.load_causal_lm(config.model.source, **kw))
        total, trainable = count_parameters(model)
        return TaskSetup(model, tok, encode(train_records) * repeat, encode(eval_records), collate,
                         {"parameters": total, "trainable_parameters": trainable, "repeat": repeat},
                         compute_metrics=hit_rate, log_metrics={"hit_rate": "hit_rate"})

    def evaluate(self, folder, config, data_path, limit, max_new_tokens, report, models_=None):
        return shouted_scores(folder, config, data_path, limit, "hit_rate")  # the shout task's scoring, renamed

    def load_snippet(self, kind, path):
        return f"# a megaphone adapter\nfrom peft import AutoPeftModelForCausalLM\nAutoPeftModelForCausalLM.from_pretrained({path!r})"

    def card_limitations(self):
        return "It only calls out."


# ---- the try panel: a module made here, imported by the page by its name -----------------------------------------
def _panel_module():
    import gradio as gr

    mod = types.ModuleType(PANEL)
    mod.TITLE, mod.TAB_ID, mod.WHERE = "Call it out", "megaphone-panel", "the **Call it out** tab"

    def build(ctx):
        pick = gr.Dropdown(choices=[], label="Megaphone run", elem_id="megaphone-pick")
        text = gr.Textbox(label="Say something", elem_id="megaphone-text")
        reply = gr.Textbox(label="Called out", elem_id="megaphone-reply")

        def runs(request: gr.Request = None):
            return gr.update(choices=ctx.run_choices(request, panel=PANEL, with_model=True))

        ctx.on_load.append((runs, [], [pick]))
        text.submit(lambda value: (value or "").upper() + "!", text, reply, api_name="call_out")
        return {"pick": pick, "text": text, "reply": reply}

    mod.build = build
    return mod


@pytest.fixture
def megaphone():
    fmt = formats.register(CalloutFormat())
    task = tasks.register(MegaphoneTask())
    sys.modules[PANEL] = _panel_module()
    yield task
    sys.modules.pop(PANEL, None)
    tasks.unregister(task.name)
    formats.unregister(fmt.name)


def test_a_task_with_its_own_format_setting_and_panels_trains_evaluates_exports_and_shows(megaphone, tiny_model_dir,
                                                                                          tmp_path, capsys):
    rows = [{"holler": f"the {w} number {i} is here"} for i in range(12) for w in ("cat", "dog")]
    data = write_jsonl(tmp_path / "calls.jsonl", rows)

    # intake: the file is read in the new format, and the Data tab's guess is the task that trains on it
    ds = load_dataset(data)
    assert ds.format == "callout" and ds.columns == {"call": "holler"} and ds.records[0] == {"text": "the cat number 0 is here"}
    assert tasks.for_format("callout") is megaphone
    (tmp_path / "one.json").write_text(json.dumps({"Holler": "one call"}), encoding="utf-8")  # one record, as JSON
    assert load_dataset(str(tmp_path / "one.json")).records == [{"text": "one call"}]

    # train: the task's setting reaches its setup (and changes how many examples it trains on)
    runs = tmp_path / "runs"
    run = runs / "mega-run"
    assert main(["train", "examples/quickstart.yaml", "--set", "task=megaphone", "--set", "launch.backend=inline",
                 "--set", f"model.source={tiny_model_dir}", "--set", f"data.train={data}", "--set", "data.format=auto",
                 "--set", f"output_dir={run}", "--set", "megaphone.repeat=3", "--set", "train.max_steps=6",
                 "--set", "train.learning_rate=0.01", "--set", "train.eval_steps=3", "--set", "data.max_length=16"]) == 0
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    start = next(e for e in events if e["type"] == "start")
    assert start["task"] == "megaphone" and start["repeat"] == 3
    assert start["train_examples"] == 3 * (len(rows) - start["eval_examples"])
    assert start["chart_metrics"] == ["hit_rate"]
    assert [e["step"] for e in events if e["type"] == "eval" and "eval_hit_rate" in e] == [3, 6]  # the task's metric
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    assert "megaphone:\n  repeat: 3" in (run / "config.yaml").read_text()
    capsys.readouterr()

    # eval: its metrics, base and tuned
    assert main(["eval", str(run), "--limit", "4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["task"] == "megaphone" and result["n_examples"] == min(4, start["eval_examples"]) > 0
    assert result["tuned"]["eval_loss"] < result["base"]["eval_loss"]  # it learned to call out
    assert set(result["change"]) == {"eval_loss", "hit_rate"}

    # export: the adapter's folder and a card that speaks of the task
    out = tmp_path / "export"
    assert main(["export", str(run), "--out", str(out)]) == 0
    assert (out / "adapter_config.json").exists()
    card = (out / "README.md").read_text()
    assert "trained for calling out" in card and "It only calls out." in card and "a megaphone adapter" in card

    # the page: the file in the Data tab, the setting in the Train tab, the try panel's tab, the saved evaluation,
    # the Serve panel's choice, and the run's chart with the task's panel
    from studio.ui.app import build_app

    demo = build_app(runs)
    ctx = demo.studio
    reload = next(d for d in demo.fns.values() if d.api_name == "reload_data")  # the Data tab, on the file
    shown = reload.fn({"path": data}, "auto", [], "smollm2", 16, *[""] * (len(reload.inputs) - 5))
    assert "format **callout**" in shown[1] and "holler" in shown[1]
    assert shown[-2]["format"] == "callout" and shown[-2]["task"] == "megaphone"  # the Train tab's task follows
    assert "marks no learned tokens" in shown[-3] and "the cat number 0 is here" in shown[-3]  # the preview
    train = ctx.parts["train"]
    repeat = train["widgets"]["megaphone.repeat"]
    assert repeat.label == "Repeat" and repeat.value == 1 and "megaphone.repeat" in train["keys"]
    show_section = next(d for d in demo.fns.values()
                        if train["task_settings"]["megaphone"] in d.outputs and train["widgets"]["task"] in d.inputs)
    assert [u["visible"] for u in show_section.fn("megaphone")] == [s == "megaphone" for s in train["task_settings"]]
    assert ctx.tabs_by_id["megaphone-panel"].label == "Call it out" and set(ctx.parts["megaphone-panel"]) == {"pick", "text", "reply"}
    assert [c[1] for c in ctx.run_choices(None, panel=PANEL, with_model=True)] == ["mega-run"]

    from studio.ui.evaluate_tab import run_view  # the Evaluate tab shows the saved evaluation in the task's words

    summary, metric_rows, *_ = run_view(ctx, "mega-run")
    assert [r[0] for r in metric_rows] == ["Eval loss", "Hit rate"] and "examples evaluated" in summary

    serve_panel = next(fn for fn, _, outputs in ctx.on_load if outputs[0] is ctx.parts["export"]["serve_runs"])
    assert serve_panel()[0]["choices"] == []  # the API serves chat models: the task says it is not one
    megaphone.chats = True
    assert [c[1] for c in serve_panel()[0]["choices"]] == ["mega-run"]
    megaphone.chats = False

    show_run = next(d for d in demo.fns.values() if d.api_name == "show_run")
    _, figure, status, *_ = show_run.fn("mega-run")
    plot = json.loads(figure.plot) if hasattr(figure, "plot") else figure.to_plotly_json()  # the shared chart is served as is
    traces = {t.get("name"): t for t in plot["data"]}
    assert {"train loss", "eval hit rate"} <= set(traces)
    assert traces["eval hit rate"]["yaxis"] != traces["train loss"].get("yaxis", "y")  # the chart panel: a row of its own
    assert list(traces["eval hit rate"]["x"]) == [3, 6]
    assert "the **Call it out** tab" in status and "hit rate" in status

    demo.queue()
    demo.launch(prevent_thread_lock=True, server_port=None, quiet=True)
    try:
        from gradio_client import Client

        client = Client(demo.local_url, verbose=False)
        assert client.predict("hello", api_name="/call_out") == "HELLO!"
        client.predict(None, None, api_name="/list_runs")  # the Runs tab lists the run, as on opening it
        served = client.predict("mega-run", api_name="/show_run")  # the run view, as the browser gets it
        assert "eval hit rate" in json.dumps(served[1]) and "Call it out" in served[2]
    finally:
        demo.close()


def test_the_registrations_are_gone_after_the_test():
    from studio.core.config import task_sections
    from studio.ui.train_tab import KEYS

    assert "megaphone" not in tasks.names() and "callout" not in formats.names() and PANEL not in sys.modules
    assert "megaphone" not in task_sections() and not any(k.startswith("megaphone.") for k in KEYS)

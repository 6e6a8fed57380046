"""The web studio's pieces without a browser: building the app, widgets from the config, presets,
charts, the run poll, data-tab views, the chat cache. Fast: no model is trained here."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import gradio as gr
import pytest

from studio.core.config import StudioConfig, knobs
from studio.core.runfolder import RunFolder
from studio.server.runs import RunStore
from studio.ui import charts, common, runview, widgets
from studio.ui.presets import PRESETS, preset_values

REPO = Path(__file__).resolve().parents[1]
UI = REPO / "studio" / "ui"


def test_ui_never_imports_torch():
    code = "import sys, studio.ui.app, app; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]
    for path in UI.glob("*.py"):
        assert not re.search(r"^\s*(import torch|from torch)", path.read_text(), re.M), path.name


def test_no_module_level_mutable_state_in_ui():
    # Per-user things live in gr.State, per-app things on the context: no lists/dicts/sets at module level.
    pattern = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s*(:[^=]+)?=\s*(\[|\{|set\(|dict\(|list\()", re.M)
    for path in UI.glob("*.py"):
        if path.name in ("evaluate_tab.py", "export_tab.py", "classify_tab.py"):
            continue
        found = pattern.findall(path.read_text())
        assert not found, f"{path.name} has module-level mutable state"


def test_build_app_has_every_tab_and_named_endpoints(tmp_path):
    from studio.ui.app import build_app

    demo = build_app(tmp_path / "runs")
    ctx = demo.studio
    assert {"model", "data", "train", "chat", "runs"} <= set(ctx.tabs_by_id)
    assert isinstance(ctx.store, RunStore) and ctx.store.root == (tmp_path / "runs").resolve()
    names = {d.api_name for d in demo.fns.values() if d.api_name}
    for name in ("describe_model", "load_sample", "load_upload", "reload_data", "apply_fixes", "preview_example",
                 "train_estimate", "apply_preset", "start_training", "poll_run", "stop_run", "list_runs", "show_run",
                 "resume_run", "chat", "chat_runs"):
        assert name in names, name
    # two apps share nothing
    other = build_app(tmp_path / "runs2")
    assert other.studio.chats is not ctx.chats and other.studio.store is not ctx.store


def test_widgets_follow_the_config_metadata():
    with gr.Blocks():
        for section, name in widgets.FIELDS:
            spec = widgets.knob_spec(widgets.section_class(section), name)
            w = widgets.widget(spec)
            assert w.label == spec["label"] and w.info == spec["help"]
            if spec.get("choices"):
                assert isinstance(w, gr.Dropdown)
                assert [c[1] for c in w.choices] == list(spec["choices"])
            elif isinstance(spec["default"], bool):
                assert isinstance(w, gr.Checkbox)
            elif isinstance(spec["default"], list):
                assert isinstance(w, gr.Dropdown) and w.multiselect
            elif isinstance(spec["default"], str):  # free text (a cluster address)
                assert isinstance(w, gr.Textbox)
            else:
                assert isinstance(w, (gr.Slider, gr.Number)), name  # never a text box for a number
                assert w.minimum == spec["min"] and w.maximum == spec["max"]
    shown = {n for _, n in widgets.FIELDS}
    assert {"learning_rate", "batch_size", "max_steps", "epochs", "r", "max_length"} <= shown
    assert {k["name"] for k in knobs(StudioConfig)} >= {"task", "method"}


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds_a_valid_config(name, tmp_path):
    from studio.ui.train_tab import KEYS, initial_values

    values = initial_values(name)
    assert set(values) == set(KEYS)
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"prompt": "hi", "completion": "hello"}) + "\n")
    cfg = widgets.build_config(values, "smollm2", {"path": str(data), "format": "auto", "task": "chat"})
    cfg.validate(cuda_available=False)
    for key, value in preset_values(name).items():
        assert widgets.config_value(cfg, key) == value, key
    assert PRESETS[name]["about"]


def test_quick_demo_is_quick():
    from studio.core import estimate as est

    v = preset_values("Quick demo")
    assert v["train.max_steps"] <= 40 and v["train.learning_rate"] == 2e-3 and v["lora.r"] == 16 and v["method"] == "lora"
    shape = est.ModelShape(134_515_008, 30, 576, 49152, 1536)
    cfg = widgets.build_config(v, "smollm2", {})
    e = est.estimate_for_config(cfg, shape, n_train=60, avg_tokens=52,
                                device=est.Device("cpu", "CPU", 2, 24 * est.GB, 16 * est.GB))
    assert e.total_seconds < 150  # a workshop minute or two on a 2-core CPU


def test_build_config_turns_widget_floats_into_ints():
    cfg = widgets.build_config({"train.batch_size": 4.0, "train.max_steps": 12.0, "lora.r": 8.0}, "smollm2",
                               {"path": "x.jsonl", "columns": {"text": "review"}}, task="classification")
    assert cfg.train.batch_size == 4 and isinstance(cfg.train.batch_size, int) and cfg.lora.r == 8
    assert cfg.data.train == "x.jsonl" and cfg.data.columns == {"text": "review"} and cfg.task == "classification"


# ---- charts and the run poll ---------------------------------------------------------------------
def events(n=5, total=10, evals=(2, 4)):
    out = [{"type": "start", "max_steps": total, "model": "m", "method": "lora", "device": "cpu", "train_examples": 9,
            "eval_examples": 1, "time": 0}]
    for s in range(1, n + 1):
        out.append({"type": "log", "step": s, "max_steps": total, "loss": 3.0 / s, "learning_rate": 1e-3 * (1 - s / total),
                    "elapsed": 2.0 * s, "tokens_per_second": 200.0, "memory_mb": 2400.0})
        if s in evals:
            out.append({"type": "eval", "step": s, "eval_loss": 2.5 / s, "perplexity": 3.0})
    return out


def test_training_figure_has_loss_eval_and_lr_on_a_second_axis():
    fig = charts.training_figure(events())
    names = [t.name for t in fig.data]
    assert names == ["train loss", "eval loss", "learning rate"]
    assert list(fig.data[0].x) == [1, 2, 3, 4, 5] and list(fig.data[1].x) == [2, 4]
    assert fig.data[2].yaxis == "y2" and fig.data[0].yaxis == "y"
    assert fig.layout.xaxis.range[1] >= 10  # the axis shows the whole run, so progress is visible


def test_resumed_steps_keep_their_last_value():
    ev = events(4) + [{"type": "start", "max_steps": 10}, {"type": "log", "step": 4, "loss": 0.1, "learning_rate": 0.0}]
    fig = charts.training_figure(ev)
    assert list(fig.data[0].x) == [1, 2, 3, 4] and fig.data[0].y[-1] == 0.1


def test_empty_figure_when_nothing_logged():
    fig = charts.training_figure([])
    assert not fig.data and fig.layout.annotations


def test_progress_has_eta_speed_and_memory():
    p = runview.progress(events(5, 10), "running")
    assert p["step"] == 5 and p["max_steps"] == 10 and p["fraction"] == 0.5
    assert p["eta_seconds"] == pytest.approx(10.0)
    html = runview.progress_html(p, "running")
    assert "step 5/10 (50%)" in html and "200 tokens/s" in html and "2.3 GB" in html and "left" in html
    assert runview.progress(events(10, 10), "finished")["eta_seconds"] is None


def make_run(store: RunStore, name: str, state: str, evs: list[dict], pid=None) -> str:
    folder = RunFolder(store.root / name)
    folder.path.mkdir(parents=True)
    StudioConfig().save(folder.config_file)
    for e in evs:
        folder.emit(e)
    folder.write_status(state=state, step=max([e.get("step", 0) or 0 for e in evs] + [0]), max_steps=10, started=time.time())
    if pid is not None:
        data = json.loads(folder.status_file.read_text())
        data["pid"] = pid
        folder.status_file.write_text(json.dumps(data))
    return name


def test_snapshot_of_running_failed_and_interrupted_runs(tmp_path):
    store = RunStore(tmp_path)
    assert runview.snapshot(store, "").state == ""
    make_run(store, "r1", "running", events(3), pid=os.getpid())
    v = runview.snapshot(store, "r1")
    # written by this process but not by this store's worker: a run cut off by a restart
    assert v.state == "interrupted" and v.can_resume and not v.active and "Resume" in v.status_md
    err = [{"type": "error", "message": "CUDA out of memory", "hint": "lower the batch size"}]
    make_run(store, "r2", "failed", events(2) + err)
    v = runview.snapshot(store, "r2")
    assert v.state == "failed" and "CUDA out of memory" in v.status_md and "What to do" in v.status_md
    assert "lower the batch size" in v.status_md and "Traceback" not in v.status_md
    make_run(store, "r3", "finished", events(10) + [{"type": "end", "state": "finished", "step": 10, "runtime": 42.0}])
    v = runview.snapshot(store, "r3")
    assert v.state == "finished" and "Chat" in v.status_md and "step 10/10 (100%)" in v.progress_html
    assert "Overfitting" not in v.status_md  # eval loss kept falling


def test_overfitting_is_said_while_the_run_goes_on(tmp_path):
    store = RunStore(tmp_path)
    evs = events(9, evals=())
    for step, loss in ((2, 1.0), (4, 0.8), (6, 0.9), (8, 1.1)):  # eval loss turns up after step 4, train loss falls
        evs.append({"type": "eval", "step": step, "eval_loss": loss})
    make_run(store, "r1", "running", evs)
    store._running["r1"] = {"kind": "inline"}  # this store is training it
    v = runview.snapshot(store, "r1")
    assert v.state == "running" and "Overfitting" in v.status_md and "step 4" in v.status_md
    assert "fewer epochs" in v.status_md and "learning rate" in v.status_md


def test_train_poll_redraws_only_on_news(tmp_path):
    from studio.ui.app import build_app

    demo = build_app(tmp_path)
    make_run(demo.studio.store, "r1", "stopped", events(4))
    poll = next(d.fn for d in demo.fns.values() if d.api_name == "poll_run")
    first = poll("r1", "")
    assert first[0] is not None and not isinstance(first[0], type(gr.skip())) and "step 4/10" in first[1]
    second = poll("r1", first[4])
    assert isinstance(second[0], type(gr.skip()))  # nothing new: the chart is not redrawn
    assert poll("missing", "")[2].startswith("**⚠")


def test_runs_table_and_choices(tmp_path):
    from studio.ui.runs_tab import command_md, run_choices, runs_table

    store = RunStore(tmp_path)
    make_run(store, "a", "finished", events(2))
    (store.root / "a" / "model").mkdir()
    (store.root / "a" / "model" / "adapter_config.json").write_text("{}")
    make_run(store, "b", "stopped", events(1))
    rows = runs_table(store)
    assert {r[0] for r in rows} == {"a", "b"} and any("finished" in r[1] for r in rows)
    assert [c[1] for c in run_choices(store, with_model=True)] == ["a"]
    assert "python -m studio train" in command_md(store, "a")


# ---- small helpers -------------------------------------------------------------------------------
def test_flatten_gradio6_message_content():
    assert common.flatten_content("hi") == "hi"
    assert common.flatten_content([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]) == "ab"
    assert common.flatten_content({"text": "x"}) == "x" and common.flatten_content(None) == ""
    hist = [{"role": "user", "content": [{"type": "text", "text": "q"}]}, {"role": "assistant", "content": "a"}]
    assert common.history_to_messages(hist) == [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]


def test_errors_are_messages_not_tracebacks():
    from studio.core.errors import StudioError

    assert common.explain(StudioError("file not found: x.csv")) == "**⚠ file not found: x.csv**"
    md = common.explain(RuntimeError("CUDA out of memory. Tried to allocate 2 GB\nmore lines"))
    assert "out of memory" in md and "What to do" in md and "more lines" not in md


def test_chat_cache_keeps_a_few_and_reloads_a_retrained_run(tmp_path, monkeypatch):
    import studio.core.generate
    from studio.ui.caches import ChatCache

    loads = []

    class Fake:
        def __init__(self, base, run_dir=None):
            loads.append((base, run_dir))

        @classmethod
        def for_run(cls, run_dir):
            return cls("base", run_dir)

    monkeypatch.setattr(studio.core.generate, "ChatModels", Fake)
    store = RunStore(tmp_path)
    for name in ("a", "b", "c"):
        make_run(store, name, "finished", events(1))
        (store.root / name / "model").mkdir()
    cache = ChatCache(size=2)
    runs = store.for_user(None)
    first = cache.get(runs, "a")
    assert cache.get(runs, "a") is first and len(loads) == 1
    cache.get(runs, "b"), cache.get(runs, "c")
    assert len(cache.keys()) == 2 and not any(k.startswith("run:a:") for k in cache.keys())
    base = cache.get(runs, base_source="smollm2")
    assert base is cache.get(runs, base_source="smollm2") and loads[-1] == ("smollm2", None)


def test_data_views(tmp_path, tiny_model_dir):
    from studio.data import check_dataset, load_dataset
    from studio.ui import data_tab
    from studio.ui.caches import ModelInfoCache

    rows = [{"prompt": f"q{i}", "completion": f"answer {i}"} for i in range(8)] + [{"prompt": "q1", "completion": "answer 1"}]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = load_dataset(path)
    report = check_dataset(ds).to_dict()
    md = data_tab.report_md(report)
    assert "duplicate" in md and "| Severity |" in md
    flagged = data_tab.flagged_md(report, ds)
    assert "line 9" in flagged and "q1" in flagged
    assert ("Drop exact duplicates (1)", "drop_duplicates") in data_tab.fix_choices(report)
    assert data_tab.fields_for("prompt_completion")[:2] == ["prompt", "completion"]
    assert data_tab.task_for("classification") == "classification" and data_tab.task_for("alpaca") == "chat"
    assert any(name == "pirate_style.jsonl" for name, _ in data_tab.samples())
    # each sample is offered with what it teaches; the value sent back stays its bare file name
    choices = data_tab.sample_choices()
    assert [value for _, value in choices] == [name for name, _ in data_tab.samples()]
    assert all(label.startswith(value + " · ") and len(label) > len(value) + 10 for label, value in choices), choices

    class Ctx:
        infos = ModelInfoCache()

    loaded = data_tab.analyse(Ctx, str(path), "auto", None, tiny_model_dir, 64)
    state = data_tab.data_state(loaded)
    assert state["records"] == 9 and state["task"] == "chat" and state["avg_tokens"] > 5
    html = data_tab.preview_html(Ctx, loaded, 1, 64)
    assert "learned from" in html and "answer 0" in html
    hist, labels = data_tab.figures(loaded, 64)
    assert hist.data and not labels.data


def test_train_tab_advises_against_settings_that_will_disappoint():
    from studio.ui.train_tab import advice

    llama = {"architecture": "LlamaForCausalLM", "chat_template": True, "model_type": "llama"}
    bert = {"architecture": "BertModel", "chat_template": False, "model_type": "bert"}
    cfg = StudioConfig().with_overrides(["method=full", "train.learning_rate=0.002"])
    assert any("high for full fine-tuning" in a for a in advice(cfg, llama))
    assert any("cannot learn to chat" in a for a in advice(StudioConfig().with_overrides(["model.source=minilm"]), bert))
    assert advice(StudioConfig(), llama) == []

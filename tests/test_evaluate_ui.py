"""The Evaluate and Export tabs: their views and actions on a real run, and the tabs served by Gradio."""

import json
import types

import pytest

gr = pytest.importorskip("gradio")

from studio.core.config import StudioConfig  # noqa: E402
from studio.server.runs import RunStore  # noqa: E402
from studio.engine.train import run_training  # noqa: E402
from studio.ui.runs_tab import run_choices  # noqa: E402


@pytest.fixture(scope="module")
def ctx(tiny_model_dir, tmp_path_factory):
    from studio.ui.caches import ChatCache

    root = tmp_path_factory.mktemp("ui-runs")
    rows = [{"messages": [{"role": "user", "content": f"What is {i} plus {i}?"},
                          {"role": "assistant", "content": f"{2 * i}"}]} for i in range(30)]
    data = root.parent / "ui-data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = StudioConfig().with_overrides([
        f"model.source={tiny_model_dir}", f"data.train={data}", f"output_dir={root / 'run1'}", "train.max_steps=3",
        "train.batch_size=4", "train.learning_rate=2e-3", "train.eval_steps=1", "data.max_length=48",
        "lora.r=4", "lora.alpha=8"])
    run_training(cfg)
    store = RunStore(root)
    return types.SimpleNamespace(store=store, chats=ChatCache(), tabs_by_id={}, on_load=[], run_id=None,
                                 runs=lambda request=None: store.for_user(None),
                                 run_choices=lambda request=None, **kw: run_choices(store.for_user(None), **kw))


def test_evaluate_tab_views_and_action(ctx):
    from studio.ui import evaluate_tab as tab

    summary, metrics, examples, fig, overfit = tab.run_view(ctx, "run1")
    assert "No evaluation" in summary and metrics == [] and "overfitting" in overfit.lower()
    assert len(fig.data) >= 2  # train and eval loss curves
    seen = []
    result = tab.evaluate(ctx, "run1", None, 2, 8, progress=lambda f, m: seen.append(m))
    assert result["n_examples"] == 2 and seen
    rows = tab.metric_rows(result)
    assert [r[0] for r in rows][:2] == ["Eval loss", "Perplexity"] and "ROUGE-L" in [r[0] for r in rows]
    headers, table = tab.example_rows(result)
    assert headers[:4] == ["Prompt", "Reference", "Base reply", "Tuned reply"] and len(table) == 2
    summary, metrics, _, _, _ = tab.run_view(ctx, "run1")  # the saved evaluation shows after a reload
    assert "2** examples evaluated" in summary and metrics == rows
    warn = {"kind": "overfitting", "message": "eval loss has risen since step 40", "hints": ["train for fewer epochs"],
            "best_step": 40}
    assert "fewer epochs" in tab.overfit_md(warn) and tab.loss_figure([{"type": "log", "step": 1, "loss": 2.0}], warn)


def test_export_tab_views_and_actions(ctx, monkeypatch):
    from studio.core.errors import StudioError
    from studio.ui import export_tab as tab

    what, card, command = tab.describe(ctx.runs(), "run1")
    assert "LoRA adapter" in what and card.startswith("```yaml\nlibrary_name: peft") and "python -m studio train" in command
    res = tab.export(ctx.runs(), "run1", merge=False)
    assert res["zip"].endswith("export.zip") and res["kind"] == "adapter"
    with pytest.raises(StudioError, match="token"):
        tab.push(ctx.runs(), "run1", False, "me/model", "", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(StudioError, match="offline"):
        tab.push(ctx.runs(), "run1", False, "me/model", "hf_abc", True)


def test_tabs_are_served_and_export_downloads(ctx):
    from gradio_client import Client

    from studio.ui import evaluate_tab, export_tab

    with gr.Blocks() as demo:
        ctx.run_id = gr.State(None)
        with gr.Tab("Evaluate"):
            evaluate_tab.build(ctx)
        with gr.Tab("Export"):
            export_tab.build(ctx)
    demo.queue()
    demo.launch(prevent_thread_lock=True, server_port=None, quiet=True, allowed_paths=[str(ctx.store.root)])
    try:
        client = Client(demo.local_url, verbose=False)
        msg, link, code, card = client.predict("run1", True, api_name="/export")
        assert "merged full model" in msg and 'href="studio/download/run1/export-merged.zip"' in link
        assert "AutoModelForCausalLM" in code and str(ctx.store.root) not in msg + code
        assert "pipeline_tag: text-generation" in card
        out = client.predict("run1", None, 2, 8, api_name="/evaluate")
        assert "Evaluated 2 examples" in out[0]
        assert [row[0] for row in out[2]["data"]][:1] == ["Eval loss"]
        table = out[3].get("value", out[3])
        assert table["headers"][:2] == ["Prompt", "Reference"] and len(table["data"]) == 2
        with pytest.raises(Exception):
            client.predict("nope", False, api_name="/export")  # not one of the runs offered
    finally:
        demo.close()


def test_each_task_names_its_own_metrics_and_its_figure_while_training():
    """The Evaluate tab's metric names and the run view's figure next to the eval loss come from the task, so a task
    defined here shows its own without a table in the UI."""
    from types import SimpleNamespace

    from studio import tasks
    from studio.tasks.base import Task
    from studio.ui import evaluate_tab, runview

    class Zesty(Task):
        name = "zesty_labels"
        metrics = {"eval_loss": False, "zest": True}
        metric_labels = {"zest": "Zest of the replies"}

        def progress_note(self, eval_event):
            return f"zest {eval_event['eval_zest']:.2f}"

    tasks.register(Zesty())
    try:
        result = {"task": "zesty_labels", "base": {"eval_loss": 2.0, "zest": 0.1}, "tuned": {"eval_loss": 1.5, "zest": 0.4},
                  "change": {"eval_loss": -0.5, "zest": 0.3}}
        assert [r[0] for r in evaluate_tab.metric_rows(result)] == ["Eval loss", "Zest of the replies"]
        info = SimpleNamespace(state="stopped", task="zesty_labels", has_model=False, path="/runs/x")
        events = [{"type": "eval", "step": s, "eval_loss": 2.0 / s, "eval_zest": 0.1 * s} for s in (1, 2)]
        assert "Eval loss 2.000 at step 1 → 1.000 at step 2 (zest 0.20)." in runview.status_markdown(info, events)
        info.task = "chat"  # the built-in tasks say theirs: chat its perplexity
        events = [{"type": "eval", "step": 1, "eval_loss": 1.0, "perplexity": 2.7}]
        assert "(perplexity 2.7)" in runview.status_markdown(info, events)
        assert "Eval loss 1.000 at step 1 (perplexity 2.7)." in runview.status_markdown(info, events)  # one pass, no arrow
    finally:
        tasks.unregister("zesty_labels")

"""The Classify tab: its views and actions on a real classification run, and the tab served by Gradio."""

import types

import pytest

gr = pytest.importorskip("gradio")

from test_classify import classify_config, review_rows, tiny_bert_dir, write_csv  # noqa: E402,F401

from studio.core.errors import StudioError  # noqa: E402
from studio.server.runs import RunStore  # noqa: E402
from studio.ui.runs_tab import run_choices  # noqa: E402
from studio.engine.train import run_training  # noqa: E402


@pytest.fixture(scope="module")
def ctx(tiny_bert_dir, tmp_path_factory):  # noqa: F811
    root = tmp_path_factory.mktemp("classify-ui-runs")
    train = write_csv(root.parent / "classify-ui.csv", review_rows(64, 2))
    run_training(classify_config(tiny_bert_dir, train, str(root / "clf1"), method="lora", train__learning_rate=5e-3))
    store = RunStore(root)
    return types.SimpleNamespace(store=store, tabs_by_id={}, on_load=[], run_id=None,
                                 runs=lambda request=None: store.for_user(None),
                                 run_choices=lambda request=None, **kw: run_choices(store.for_user(None), **kw))


def test_views_and_actions(ctx):
    from studio.tasks.classification import panel as tab

    summary, metrics, per_class, base_fig, tuned_fig = tab.run_view(ctx, "clf1")
    assert "No scores" in summary and metrics == [] and per_class == []
    assert tab._choices(ctx) == [(tab._choices(ctx)[0][0], "clf1")]

    base, tuned = tab.classify_text(ctx, "clf1", "the film was wonderful")
    assert set(base) == set(tuned) == {"neg", "pos"}
    assert sum(tuned.values()) == pytest.approx(1.0, abs=1e-5) and base != tuned
    assert list(tuned.values()) == sorted(tuned.values(), reverse=True)
    with pytest.raises(StudioError, match="type a text"):
        tab.classify_text(ctx, "clf1", "  ")
    with pytest.raises(StudioError, match="pick a classification run"):
        tab.classify_text(ctx, None, "hello")

    seen = []
    result = tab.score(ctx, "clf1", None, 0, progress=lambda f, m: seen.append(m))
    rows = tab.metric_rows(result)
    assert [r[0] for r in rows] == ["Accuracy", "Macro F1", "Eval loss"]
    table = tab.per_class_rows(result)
    assert [r[0] for r in table] == ["neg", "pos"] and sum(r[1] for r in table) == result["n_examples"]
    base_fig, tuned_fig = tab.figures(result)
    assert base_fig.data[0].type == tuned_fig.data[0].type == "heatmap"
    summary, metrics, per_class, _, _ = tab.run_view(ctx, "clf1")  # the saved scores show after a reload
    assert "Accuracy" in summary and metrics == rows and per_class == table

    from studio.ui import evaluate_tab

    per_label, confusion = evaluate_tab.class_view(ctx, "clf1")  # the Evaluate tab shows the same scores
    assert per_label["visible"] and per_label["value"] == table
    assert confusion["visible"] and confusion["value"].data[0].type == "heatmap"
    assert evaluate_tab.class_view(ctx, None)[0]["visible"] is False


def test_summary_flags_a_missed_rare_label():
    from studio.tasks.classification import panel as tab

    per = {"common": {"precision": 0.9, "recall": 1.0, "f1": 0.95, "support": 18},
           "rare": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}}
    result = {"task": "classification", "labels": ["common", "rare"], "n_examples": 20, "majority_share": 0.9,
              "base": {"accuracy": 0.5, "macro_f1": 0.4, "per_class": per},
              "tuned": {"accuracy": 0.9, "macro_f1": 0.47, "per_class": per}}
    text = tab.summary_md(result)
    assert "**rare**" in text and "Balance classes" in text and "90%" in text


def test_tab_is_served(ctx):
    from gradio_client import Client

    from studio.tasks.classification import panel as classify_tab

    with gr.Blocks() as demo:
        ctx.run_id = gr.State("")
        with gr.Tab("Classify"):
            parts = classify_tab.build(ctx)
    assert {"base", "tuned", "per_class", "tuned_chart"} <= set(parts)
    demo.queue()
    demo.launch(prevent_thread_lock=True, server_port=None, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        message, base, tuned = client.predict("clf1", "the plot was dreadful", api_name="/classify")
        assert message == "" and {c["label"] for c in tuned["confidences"]} == {"neg", "pos"}
        message, *_ = client.predict("clf1", "", api_name="/classify")
        assert "type a text" in message
    finally:
        demo.close()

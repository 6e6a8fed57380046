"""The classification task's try panel, the Classify tab: a classification run's base and tuned models side by side
on text you type, and their scores on held-out data (accuracy, macro F1, per-label precision and recall, confusion
matrices). Page code only (Gradio; no torch at import): the page loads it by the name in ``Task.try_panel``, and the
task never imports it. The panel contract is in ``studio/ui/panels.py``; runs are offered here when their task names
this panel."""

from __future__ import annotations

import gradio as gr

from studio.ui.charts import empty_figure
from studio.ui.common import esc, explain, file_name, uploaded_path

TITLE = "Classify"
TAB_ID = "classify"
WHERE = "the **Classify** tab, base and tuned label probabilities side by side"

INTRO = """### Try a classifier
For **classification** runs: type a text and see the label probabilities of the **base** model (the
untouched encoder with a fresh, untrained head, so about a coin toss) next to your **tuned** model. Then
score both on held-out examples: accuracy, macro F1 (every label counts the same, so a rare label that is
always missed pulls it down even when accuracy looks fine), and per label the **precision** (how often a
prediction of that label is right) and **recall** (how many of that label's texts are found)."""

METRIC_COLUMNS = ["Metric", "Base", "Tuned", "Change"]
CLASS_COLUMNS = ["Label", "Examples", "Precision base", "Recall base", "F1 base",
                 "Precision tuned", "Recall tuned", "F1 tuned"]


# ---- views (plain functions: the tests call them without a browser) ----------------------------------------
def label_values(probs: dict | None) -> dict:
    """A label->probability dict as gr.Label shows it (highest first)."""
    if not probs:
        return {}
    return {str(k): float(v) for k, v in sorted(probs.items(), key=lambda kv: -kv[1])}


def classify_text(ctx, run_id: str | None, text: str, request=None) -> tuple[dict, dict]:
    """The base and tuned models' label probabilities for one text."""
    from studio.core.errors import StudioError
    from studio.tasks.classification.predict import predict

    info = _classification_run(ctx, run_id, request)
    if not (text or "").strip():
        raise StudioError("type a text to classify first")
    cache = _cache(ctx)
    base = predict(info.path, [text], tuned=False, cache=cache)[0]
    tuned = predict(info.path, [text], tuned=True, cache=cache)[0]
    return label_values(base), label_values(tuned)


def metric_rows(result: dict) -> list[list]:
    from studio.tasks.classification import TASK

    rows = []
    for key in ("accuracy", "macro_f1", "eval_loss"):
        name = TASK.metric_label(key)
        base, tuned = (result.get("base") or {}).get(key), (result.get("tuned") or {}).get(key)
        if base is None and tuned is None:
            continue
        change = tuned - base if isinstance(base, (int, float)) and isinstance(tuned, (int, float)) else None
        rows.append([name, _num(base), _num(tuned), _num(change, signed=True)])
    return rows


def per_class_rows(result: dict) -> list[list]:
    base = (result.get("base") or {}).get("per_class") or {}
    tuned = (result.get("tuned") or {}).get("per_class") or {}
    rows = []
    for label in result.get("labels") or list(tuned or base):
        b, t = base.get(label, {}), tuned.get(label, {})
        rows.append([label, t.get("support", b.get("support", 0)),
                     _num(b.get("precision")), _num(b.get("recall")), _num(b.get("f1")),
                     _num(t.get("precision")), _num(t.get("recall")), _num(t.get("f1"))])
    return rows


def summary_md(result: dict) -> str:
    if not scored(result):
        return "No scores for this run yet: press **Score on held-out data**."
    n = result.get("n_examples", result.get("examples"))
    n = n if isinstance(n, int) else None
    base, tuned = result["base"], result["tuned"]
    lines = [f"**Held-out data:** {esc(file_name(result.get('data', '?')))}" + (f" · **{n}** examples" if n else "")]
    if tuned.get("accuracy") is not None:
        lines.append(f"Accuracy {_pct(base.get('accuracy'))} → **{_pct(tuned.get('accuracy'))}**, "
                     f"macro F1 {_num(base.get('macro_f1'))} → **{_num(tuned.get('macro_f1'))}**.")
    share = result.get("majority_share")
    if share is not None:
        lines.append(f"Always answering the most common label would score {_pct(share)}: a useful classifier beats that.")
    weak = [label for label, s in (tuned.get("per_class") or {}).items() if s.get("support") and s.get("recall", 1) < 0.5]
    if weak:
        lines.append("⚠ The tuned model finds fewer than half of the texts labelled "
                     + ", ".join(f"**{esc(w)}**" for w in weak)
                     + ". If that label is rare, try **Balance classes** (classification.class_weights) or more examples of it.")
    skipped = result.get("skipped_unknown_label")
    if skipped:
        lines.append(f"{skipped} held-out examples had labels the run never trained on and were left out.")
    return "\n\n".join(lines)


def scored(result: dict | None) -> bool:
    """True for an evaluation result with labels: per-label scores and confusion matrices to show."""
    tuned = (result or {}).get("tuned") or {}
    return any(key in tuned for key in ("per_class", "confusion", "accuracy"))


def figures(result: dict) -> tuple:
    from studio.ui.charts import confusion_figure

    out = []
    for side, title in (("base", "Base (untrained head)"), ("tuned", "Tuned")):
        conf = (result.get(side) or {}).get("confusion") if result else None
        out.append(confusion_figure(conf, title=f"{title}: true vs predicted") if conf else
                   empty_figure("Score the run to see its confusion matrix."))
    return tuple(out)


def run_view(ctx, run_id: str | None, request=None) -> tuple:
    """(summary, metric rows, per-label rows, base chart, tuned chart) for a picked run, from its saved scores."""
    if not run_id:
        empty = empty_figure("Pick a classification run.")
        return "Pick a classification run that has a trained model.", [], [], empty, empty
    from studio.engine.evaluate import load_saved

    info = _classification_run(ctx, run_id, request)
    saved = load_saved(info.path) or {}
    if not scored(saved):
        saved = {}
    return (summary_md(saved), metric_rows(saved), per_class_rows(saved), *figures(saved))


def score(ctx, run_id: str | None, data_file, limit, progress=None, request=None) -> dict:
    """Score base and tuned on held-out data (saved in the run folder like the Evaluate tab's results)."""
    from studio.engine.evaluate import evaluate_run

    info = _classification_run(ctx, run_id, request)
    path = uploaded_path(data_file)
    if path:
        from studio.ui.served import check_file

        path = str(check_file(ctx, ctx.runs(request), path, "file"))
    return evaluate_run(info.path, path, int(limit or 0) or None, progress=progress, models=_cache(ctx))


def eval_models(ctx, runs, run_id, progress=None):
    """The Evaluate tab scores a classification run with the models this tab keeps loaded."""
    return _cache(ctx)


def eval_extras(result: dict):
    """The per-label table and the tuned confusion matrix under a saved evaluation in the Evaluate tab."""
    if not scored(result):
        return None
    return CLASS_COLUMNS, per_class_rows(result), figures(result)[1]


def build(ctx):
    gr.Markdown(INTRO)
    with gr.Row():
        pick = gr.Dropdown(choices=_initial_choices(ctx), value=None, label="Classification run", scale=4,
                           elem_id="classify-pick")
        refresh = gr.Button("↻ Refresh", scale=1)
    message = gr.Markdown(elem_id="classify-message")
    with gr.Row():
        text = gr.Textbox(label="Text to classify", lines=3, scale=4, elem_id="classify-text",
                          placeholder="e.g. The battery died after two days. I want a refund.")
        go = gr.Button("▶ Classify", variant="primary", scale=1, elem_id="classify-go")
    with gr.Row():
        base_label = gr.Label(label="Base model", num_top_classes=5, elem_id="classify-base")
        tuned_label = gr.Label(label="Tuned model", num_top_classes=5, elem_id="classify-tuned")
    gr.Markdown("#### Held-out scores")
    with gr.Row():
        data_file = gr.File(label="Held-out examples (optional)", file_types=[".csv", ".jsonl", ".json", ".parquet"],
                            scale=2, elem_id="classify-data")
        with gr.Column(scale=2):
            limit = gr.Slider(0, 2000, value=0, step=10, label="Examples",
                              info="At most this many (0: all). Without a file: the run's eval file, else the "
                                   "examples training held out.")
            score_btn = gr.Button("Score on held-out data", elem_id="classify-score")
    summary = gr.Markdown(elem_id="classify-summary")
    metrics = gr.Dataframe(headers=METRIC_COLUMNS, value=[], interactive=False, label="Base vs tuned",
                           elem_id="classify-metrics")
    per_class = gr.Dataframe(headers=CLASS_COLUMNS, value=[], interactive=False, label="Per label",
                             elem_id="classify-per-class")
    with gr.Row():
        base_chart = gr.Plot(label="Base confusion matrix", elem_id="classify-base-chart")
        tuned_chart = gr.Plot(label="Tuned confusion matrix", elem_id="classify-tuned-chart")

    view_outputs = [message, summary, metrics, per_class, base_chart, tuned_chart]

    def safe_view(run_id, request: gr.Request = None):
        try:
            return ("", *run_view(ctx, run_id, request))
        except Exception as err:  # noqa: BLE001 - shown as a message
            return (explain(err), "", [], [], gr.skip(), gr.skip())

    def refresh_choices(current, followed, request: gr.Request = None):
        choices = _choices(ctx, request)
        ids = [c[1] for c in choices]
        value = next((c for c in (current, followed) if c in ids), ids[0] if ids else None)
        return (gr.update(choices=choices, value=value), *safe_view(value, request))

    followed = ctx.run_id if ctx.run_id is not None else gr.State("")
    refresh.click(refresh_choices, [pick, followed], [pick, *view_outputs], api_visibility="private")
    if TAB_ID in getattr(ctx, "tabs_by_id", {}):
        ctx.tabs_by_id[TAB_ID].select(refresh_choices, [pick, followed], [pick, *view_outputs],
                                          api_visibility="private")
    if hasattr(ctx, "on_load"):
        ctx.on_load.append((refresh_choices, [pick, followed], [pick, *view_outputs]))
    pick.input(safe_view, [pick], view_outputs, api_visibility="private")

    def on_classify(run_id, value, request: gr.Request = None):
        try:
            base, tuned = classify_text(ctx, run_id, value, request)
        except Exception as err:  # noqa: BLE001 - shown as a message
            return explain(err), gr.skip(), gr.skip()
        return "", base, tuned

    go.click(on_classify, [pick, text], [message, base_label, tuned_label], api_name="classify",
             concurrency_limit=1, concurrency_id="models")
    text.submit(on_classify, [pick, text], [message, base_label, tuned_label], api_visibility="private",
                concurrency_limit=1, concurrency_id="models")

    def on_score(run_id, file, n, progress=gr.Progress(), request: gr.Request = None):
        try:
            result = score(ctx, run_id, file, n, progress=lambda fraction, desc: progress(fraction, desc=desc),
                           request=request)
        except Exception as err:  # noqa: BLE001 - shown as a message
            return (explain(err), *[gr.skip()] * 5)
        n_done = result.get("n_examples", result.get("examples"))
        done = f"✓ Scored {n_done} held-out examples; saved as evaluation.json in the run folder."
        return (done, summary_md(result), metric_rows(result), per_class_rows(result), *figures(result))

    score_btn.click(on_score, [pick, data_file, limit], view_outputs, api_name="classify_score",
                    concurrency_limit=1, concurrency_id="models")
    return {"pick": pick, "text": text, "go": go, "base": base_label, "tuned": tuned_label, "score": score_btn,
            "summary": summary, "metrics": metrics, "per_class": per_class, "base_chart": base_chart,
            "tuned_chart": tuned_chart, "message": message}


# ---- helpers ----------------------------------------------------------------------------------------------
def _cache(ctx):
    """The app's loaded classifiers (kept on the context, per app); None outside an app (each call loads)."""
    from studio.tasks.classification.predict import ClassifierCache

    keep = getattr(ctx, "panel_cache", None)
    return keep(__name__, ClassifierCache) if keep is not None else None


def _choices(ctx, request=None) -> list[tuple[str, str]]:
    return ctx.run_choices(request, panel=__name__, with_model=True)


def _initial_choices(ctx) -> list[tuple[str, str]]:
    try:
        return _choices(ctx)
    except Exception:  # noqa: BLE001 - an unreadable runs folder must not stop the app from building
        return []


def _classification_run(ctx, run_id: str | None, request=None):
    from studio.core.errors import StudioError

    if not run_id:
        raise StudioError("pick a classification run first")
    from studio import tasks

    info = ctx.runs(request).info(run_id)
    if tasks.get(info.task).try_panel != __name__:  # the runs this panel is for: their task names it
        raise StudioError(f"run {run_id} is a {info.task} run; this tab is for classification runs (try the Chat tab)")
    if not info.has_model:
        raise StudioError(f"run {run_id} has no trained model yet ({info.state}); wait for it to finish, or stop it")
    return info


def _num(value, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _pct(value) -> str:
    return "–" if value is None else f"{value:.0%}"


__all__ = ["build", "classify_text", "eval_extras", "eval_models", "figures", "label_values", "metric_rows",
           "per_class_rows", "run_view", "score", "summary_md"]

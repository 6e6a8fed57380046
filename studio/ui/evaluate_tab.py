"""Evaluate tab: base vs tuned on held-out data, in numbers and side-by-side replies, with the loss chart
and the overfitting check. The work is done by ``studio.engine.evaluate``; this module only shows it."""

from __future__ import annotations

import gradio as gr

from studio.ui.charts import empty_figure, training_figure
from studio.ui.common import esc, explain, file_name, refresh_when_shown, uploaded_path

INTRO = """### 5 · Evaluate
Score the **base** model and your **tuned** model on held-out examples they never trained on: the loss on
the reference answers (lower is better), and for chat runs each model's greedy reply compared with the
reference (ROUGE-L and BLEU: word overlap, higher is better; exact match for short answers). Classification
runs report accuracy and macro F1; preference runs how often each model prefers the chosen answer of held-out
pairs. Generation is slow on a CPU: start with a few examples."""

METRIC_COLUMNS = ["Metric", "Base", "Tuned", "Change", ""]
CHAT_COLUMNS = ["Prompt", "Reference", "Base reply", "Tuned reply", "ROUGE-L base", "ROUGE-L tuned"]  # the empty table


# ---- views (plain functions: the tests call them without a browser) ----------------------------------------
def metric_rows(result: dict) -> list[list]:
    from studio.engine.evaluate import metrics_table

    task = _task(result)  # each task names its own metrics
    rows = []
    for metric, base, tuned, change, verdict in metrics_table(result):
        mark = {"better": "✓ better", "worse": "▼ worse"}.get(verdict, "")
        rows.append([task.metric_label(metric) if task else metric, _num(base), _num(tuned), _num(change, signed=True),
                     mark])
    return rows


def _task(result: dict):
    from studio import tasks

    return tasks.find(result.get("task") or "")  # None: a task no longer installed; the numbers alone


def example_rows(result: dict) -> tuple[list[str], list[list]]:
    """The held-out examples as the run's task lays them out (prompt and replies, text and labels, ...)."""
    task = _task(result)
    headers, rows = task.example_table(result) if task else ([], [])
    return (headers or CHAT_COLUMNS), rows


def summary_md(result: dict) -> str:
    if not result:
        return "No evaluation of this run yet: press **Evaluate**."
    n = result.get("n_examples")
    held = result.get("held_out_examples")
    lines = [f"**Held-out data:** {esc(file_name(result.get('data', '?')))}"
             + (f" · **{n}** examples evaluated" if n is not None else "")
             + (f" of {held}" if held and held != n else "")
             + (f" · {result['seconds']:.0f} s" if result.get("seconds") is not None else "")]
    if result.get("seen_in_training"):
        lines.append(f"⚠ {result['seen_in_training']} of these {n} examples are also in the training data, so they "
                     "are not held out and the tuned scores look better than the model is.")
    task = _task(result)
    headline = task.eval_headline(result) if task else None
    if headline:
        lines.append(headline)
    lines += task.eval_notes(result) if task else []
    return "\n\n".join(lines)


def overfit_md(warning: dict | None, has_evals: bool = True) -> str:
    if warning:
        hints = "\n".join(f"- {esc(h)}" for h in warning.get("hints", []))
        title = "Overfitting" if warning.get("kind") == "overfitting" else "Unstable training"
        return f"**⚠ {title}:** {esc(warning['message'])}.\n\n**What to try:**\n{hints}"
    if not has_evals:
        return "The run logged no eval loss (no held-out split), so overfitting cannot be checked from its curves."
    return "✓ No sign of overfitting: the eval loss did not turn up while the training loss fell."


def loss_figure(events: list[dict], warning: dict | None):
    """The run's loss chart, with the point where eval loss turned up marked."""
    fig = training_figure(events, title="Training and eval loss")
    if warning and (events and any(e.get("type") in ("log", "eval") for e in events)):
        fig.add_vline(x=warning["best_step"], line_width=1.5, line_dash="dash", line_color="#d97706")
        fig.add_annotation(x=warning["best_step"], y=1.0, yref="paper", showarrow=False, xanchor="left",
                           text=f" eval loss rising after step {warning['best_step']}", font={"color": "#b45309"})
    return fig


def run_view(ctx, run_id: str | None, request=None) -> tuple:
    """(summary, metrics rows, examples table, chart, overfitting text) for a picked run, from its files."""
    from studio.engine.evaluate import load_saved
    from studio.engine.overfit import check_run

    if not run_id:
        return "Pick a run that has a trained model.", [], _table(CHAT_COLUMNS, []), empty_figure("Pick a run."), ""
    folder = ctx.runs(request).folder(run_id)
    events = folder.read_events(("start", "log", "eval", "end"))
    warning = check_run(folder.path)
    saved = load_saved(folder.path) or {}
    headers, rows = example_rows(saved) if saved else (CHAT_COLUMNS, [])
    has_evals = any(e.get("type") == "eval" and e.get("eval_loss") is not None for e in events)
    return (summary_md(saved), metric_rows(saved) if saved else [], _table(headers, rows),
            loss_figure(events, warning), overfit_md(warning, has_evals))


def class_view(ctx, run_id: str | None, request=None) -> tuple:
    """(table, figure) that the run's try panel adds to its saved evaluation (a classification run: per-label scores
    and the tuned confusion matrix); hidden when it adds none."""
    from studio.engine.evaluate import load_saved
    from studio.ui import panels

    extras = None
    if run_id:
        runs = ctx.runs(request)
        saved = load_saved(runs.folder(run_id).path) or {}
        extras = panels.eval_extras(runs.info(run_id).task, saved) if saved else None
    if not extras:
        return gr.update(value=[], visible=False), gr.update(visible=False)
    headers, rows, figure = extras
    return gr.update(value=rows, headers=headers, visible=True), gr.update(value=figure, visible=True)


def evaluate(ctx, run_id: str | None, data_file, limit, max_new_tokens, progress=None, request=None) -> dict:
    """Run the evaluation (reusing the loaded chat models for a chat run)."""
    from studio.core.errors import StudioError
    from studio.engine.evaluate import evaluate_run

    if not run_id:
        raise StudioError("pick a run first")
    runs = ctx.runs(request)
    info = runs.info(run_id)
    if not info.has_model:
        raise StudioError(f"run {run_id} has no trained model yet ({info.state}); wait for it to finish, or stop it")
    from studio.ui import panels

    # the loaded models the run's try panel keeps, reused (the task loads its own otherwise)
    models = panels.eval_models(ctx, runs, run_id, info.task, progress)
    path = uploaded_path(data_file)
    if path:
        from studio.ui.served import check_file

        path = str(check_file(ctx, runs, path, "file"))
    return evaluate_run(info.path, path, int(limit or 0) or None, int(max_new_tokens), progress=progress, models=models)


def build(ctx):
    gr.Markdown(INTRO)
    with gr.Row():
        pick = gr.Dropdown(choices=_initial_choices(ctx), value=None, label="Run to evaluate", scale=4, elem_id="eval-pick")
        refresh = gr.Button("↻ Refresh", scale=1)
    with gr.Row():
        data_file = gr.File(label="Held-out examples (optional)", file_types=[".jsonl", ".json", ".csv", ".parquet", ".txt"],
                            scale=2, elem_id="eval-data")
        with gr.Column(scale=2):
            limit = gr.Slider(1, 200, value=20, step=1, label="Examples",
                              info="At most this many held-out examples. Without a file: the run's eval file, "
                                   "else the examples training held out.")
            max_new = gr.Slider(8, 512, value=96, step=8, label="Max new tokens",
                                info="Longest reply per example (shorter for short reference answers).")
            go = gr.Button("▶ Evaluate", variant="primary", elem_id="eval-go")
    message = gr.Markdown(elem_id="eval-message")
    summary = gr.Markdown(elem_id="eval-summary")
    metrics = gr.Dataframe(headers=METRIC_COLUMNS, value=[], interactive=False, label="Base vs tuned",
                           elem_id="eval-metrics")
    examples = gr.Dataframe(headers=CHAT_COLUMNS, value=[], interactive=False, wrap=True, max_height=600,
                            column_widths=["20%", "22%", "24%", "24%", "5%", "5%"],
                            label="Held-out prompts: reference, base reply, tuned reply", elem_id="eval-examples")
    per_class = gr.Dataframe(value=[], interactive=False, visible=False,  # its headers come with its rows
                             label="Per label: precision, recall and F1 (base, then tuned)", elem_id="eval-per-class")
    with gr.Row():
        confusion = gr.Plot(label="Confusion matrix (tuned)", visible=False, elem_id="eval-confusion")
        chart = gr.Plot(label="Loss curves", elem_id="eval-chart")
    overfit = gr.Markdown(elem_id="eval-overfit")

    def refresh_choices(current, followed, request: gr.Request = None):
        choices = ctx.run_choices(request, with_model=True)
        ids = [c[1] for c in choices]
        value = next((c for c in (current, followed) if c in ids), ids[0] if ids else None)
        return (gr.update(choices=choices, value=value), *_safe_view(value, request))

    def _safe_view(run_id, request: gr.Request = None):
        try:
            return ("", *run_view(ctx, run_id, request), *class_view(ctx, run_id, request))
        except Exception as err:  # noqa: BLE001 - shown as a message
            return (explain(err), "", [], gr.skip(), empty_figure(""), "", gr.skip(), gr.skip())

    view_outputs = [message, summary, metrics, examples, chart, overfit, per_class, confusion]
    refresh.click(refresh_choices, [pick, ctx.run_id], [pick, *view_outputs], api_visibility="private")
    refresh_when_shown(ctx, "evaluate", refresh_choices, [pick, ctx.run_id], [pick, *view_outputs])
    pick.input(_safe_view, [pick], view_outputs, api_visibility="private")

    def run_eval(run_id, file, n, mx, progress=gr.Progress(), request: gr.Request = None):
        try:
            result = evaluate(ctx, run_id, file, n, mx,
                              progress=lambda fraction, text: progress(fraction, desc=text), request=request)
        except Exception as err:  # noqa: BLE001 - shown as a message
            return (explain(err),) + (gr.skip(),) * 7
        _, _, _, figure, overfit_text = run_view(ctx, run_id, request)
        headers, rows = example_rows(result)
        done = f"✓ Evaluated {result.get('n_examples', '?')} examples; saved as evaluation.json in the run folder."
        return (done, summary_md(result), metric_rows(result), _table(headers, rows), figure, overfit_text,
                *class_view(ctx, run_id, request))

    go.click(run_eval, [pick, data_file, limit, max_new], view_outputs, api_name="evaluate",
             concurrency_limit=1, concurrency_id="models")
    return {"pick": pick, "go": go, "metrics": metrics, "examples": examples, "chart": chart, "overfit": overfit,
            "message": message, "summary": summary}


# ---- helpers ----------------------------------------------------------------------------------------------
def _table(headers: list[str], rows: list[list]):
    return gr.update(value={"headers": headers, "data": rows}, headers=headers) if rows else \
        gr.update(value={"headers": headers, "data": []}, headers=headers)


def _num(value, signed: bool = False) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and not signed:
        return str(value)
    return f"{value:+.4f}" if signed else f"{value:.4f}"


__all__ = ["build", "class_view", "evaluate", "run_view", "metric_rows", "example_rows", "overfit_md", "summary_md"]


def _initial_choices(ctx) -> list[tuple[str, str]]:
    """The runs with a model when the page is built (refreshed on load, on tab select and by ↻); none on a shared
    studio, where the page is the same for everyone until they sign in."""
    try:
        return ctx.run_choices(None, with_model=True)
    except Exception:  # noqa: BLE001 - an unreadable runs folder must not stop the app from building
        return []

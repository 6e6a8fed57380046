"""Plotly figures of a run, built from its events (the run folder's events.jsonl)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

LOSS_COLOR = "#2563eb"
EVAL_COLOR = "#dc2626"
LR_COLOR = "#9ca3af"


def _by_step(events: list[dict], key: str) -> tuple[list[int], list[float]]:
    """Values of ``key`` per step; a step logged twice (a resumed run repeats some) keeps its last value."""
    points: dict[int, float] = {}
    for ev in events:
        if ev.get(key) is None or ev.get("step") is None:
            continue
        points[int(ev["step"])] = float(ev[key])
    steps = sorted(points)
    return steps, [points[s] for s in steps]


def max_steps_of(events: list[dict]) -> int:
    for ev in reversed(events):
        if ev.get("type") in ("log", "start") and ev.get("max_steps"):
            return int(ev["max_steps"])
    return 0


def empty_figure(message: str = "No run yet: the chart fills in as training logs its first steps.") -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 14, "color": "#6b7280"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=340, margin={"l": 20, "r": 20, "t": 30, "b": 20}, template="plotly_white")
    return fig


def chart_metrics_of(events: list[dict]) -> list[str]:
    """The task's own logged numbers that the run's start event names (``chart_metrics``), if any."""
    for ev in reversed(events):
        if ev.get("type") == "start":
            return [str(k) for k in ev.get("chart_metrics") or []]
    return []


def chart_panels_of(events: list[dict]) -> list:
    """The panels below the loss: those the run's task declares (``Task.chart_panels``), else, for a task that is
    not installed here, one panel of the numbers its start event names (shares: names ending in "accuracy")."""
    from studio import tasks
    from studio.tasks.base import ChartPanel

    logged = chart_metrics_of(events)
    start = next((e for e in reversed(events) if e.get("type") == "start"), {})
    task = tasks.find(str(start.get("task") or ""))
    if task is not None and task.chart_panels:
        return list(task.chart_panels)
    if not logged:
        return []
    return [ChartPanel("", metrics=tuple(k for k in logged if not k.endswith("accuracy")),
                       shares=tuple(k for k in logged if k.endswith("accuracy")))]


def training_figure(events: list[dict], title: str = "") -> go.Figure:
    """Train loss and eval loss on the left axis, learning rate on the right, against the step; below, a row for
    each chart panel of the run's task (``Task.chart_panels``: reward margin and accuracy for DPO)."""
    logs = [e for e in events if e.get("type") == "log"]
    evals = [e for e in events if e.get("type") == "eval"]
    if not logs and not evals:
        return empty_figure("Waiting for the first logged step…" if events else
                            "No run yet: the chart fills in as training logs its first steps.")
    extra = chart_panels_of(events)
    rows = 1 + len(extra)
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        row_heights=[0.6] + [0.4 / len(extra)] * len(extra) if extra else None,
                        specs=[[{"secondary_y": True}]] * rows)
    steps, loss = _by_step(logs, "loss")
    fig.add_trace(go.Scatter(x=steps, y=loss, name="train loss", mode="lines+markers" if len(steps) < 40 else "lines",
                             line={"color": LOSS_COLOR, "width": 2}, marker={"size": 5}), secondary_y=False)
    esteps, eloss = _by_step(evals, "eval_loss")
    if esteps:
        fig.add_trace(go.Scatter(x=esteps, y=eloss, name="eval loss", mode="lines+markers",
                                 line={"color": EVAL_COLOR, "width": 2, "dash": "dot"}, marker={"size": 8}),
                      secondary_y=False)
    lsteps, lr = _by_step(logs, "learning_rate")
    if lsteps:
        fig.add_trace(go.Scatter(x=lsteps, y=lr, name="learning rate", mode="lines",
                                 line={"color": LR_COLOR, "width": 1.5, "dash": "dash"}), secondary_y=True)
    for row, panel in enumerate(extra, start=2):
        _metric_panel(fig, logs, evals, panel, row)
    total = max_steps_of(events)
    last = max(steps + esteps + [1])
    fig.update_xaxes(range=[0, max(total, last) * 1.02 + 0.5])
    fig.update_xaxes(title_text="step", row=rows, col=1)
    fig.update_yaxes(title_text="loss", secondary_y=False, rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="learning rate", secondary_y=True, showgrid=False, exponentformat="e",
                     rangemode="tozero", row=1, col=1)
    fig.update_layout(
        title={"text": title, "font": {"size": 14}} if title else None,
        height=340 + 180 * len(extra), margin={"l": 50, "r": 60, "t": 40 if title else 20, "b": 40}, template="plotly_white",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1},
        hovermode="x unified", uirevision="keep",  # keeps the person's zoom while new points arrive
    )
    return fig


METRIC_COLORS = ("#16a34a", "#9333ea", "#ea580c", "#0891b2")


def _metric_panel(fig, logs: list[dict], evals: list[dict], panel, row: int) -> None:
    """A chart panel of the task's numbers in its row: ``metrics`` on the left axis, ``shares`` (0 to 1) on the
    right."""
    keys = list(panel.metrics) + list(panel.shares)
    for i, key in enumerate(keys):
        color, share = METRIC_COLORS[i % len(METRIC_COLORS)], key in panel.shares
        label = key.replace("_", " ")
        steps, values = _by_step(logs, key)
        if steps:
            fig.add_trace(go.Scatter(x=steps, y=values, name=label, mode="lines+markers" if len(steps) < 40 else "lines",
                                     line={"color": color, "width": 2}, marker={"size": 4},
                                     legendgroup=panel.title or None),
                          row=row, col=1, secondary_y=share)
        esteps, evalues = _by_step(evals, f"eval_{key}")
        if esteps:
            fig.add_trace(go.Scatter(x=esteps, y=evalues, name=f"eval {label}", mode="lines+markers",
                                     line={"color": color, "width": 2, "dash": "dot"}, marker={"size": 8},
                                     legendgroup=panel.title or None),
                          row=row, col=1, secondary_y=share)
    shares, others = list(panel.shares), list(panel.metrics)
    fig.update_yaxes(title_text=" / ".join(k.replace("_", " ") for k in others) or None, secondary_y=False, row=row, col=1)
    fig.update_yaxes(title_text=" / ".join(k.replace("_", " ") for k in shares) or None, secondary_y=True, row=row, col=1,
                     range=[0, 1.05], showgrid=False, tickformat=".0%")


def bar_figure(labels: list[str], values: list[float], title: str, xlabel: str = "", ylabel: str = "count") -> go.Figure:
    fig = go.Figure(go.Bar(x=labels, y=values, marker_color=LOSS_COLOR))
    fig.update_layout(title={"text": title, "font": {"size": 14}}, height=300, template="plotly_white",
                      margin={"l": 50, "r": 20, "t": 40, "b": 40}, xaxis_title=xlabel, yaxis_title=ylabel)
    return fig


def confusion_figure(confusion: dict, title: str = "Confusion matrix"):
    """A heatmap of a confusion matrix (``{"labels": [...], "matrix": [[...]]}``): rows are the true labels,
    columns the predicted ones; cells show counts and are shaded by the share of their row (the recall on the
    diagonal)."""
    labels = [str(x) for x in confusion.get("labels", [])]
    matrix = confusion.get("matrix") or []
    shares = []
    for row in matrix:
        total = sum(row)
        shares.append([round(v / total, 3) if total else 0.0 for v in row])
    text = [[f"{v}<br>{s:.0%}" for v, s in zip(row, srow)] for row, srow in zip(matrix, shares)]
    fig = go.Figure(go.Heatmap(
        z=shares, x=labels, y=labels, text=text, texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1,
        customdata=matrix, hovertemplate="true %{y}, predicted %{x}: %{customdata} (%{z:.0%} of the row)<extra></extra>",
        showscale=False,
    ))
    fig.update_layout(title=title, xaxis_title="predicted", yaxis_title="true", yaxis_autorange="reversed",
                      margin=dict(l=60, r=20, t=50, b=50), height=max(300, 60 * len(labels) + 120))
    return fig


COMPARE_COLORS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777")


def compare_figure(result: dict, by: str = "step") -> go.Figure:
    """Runs laid over each other (``studio.server.compare``): training loss, eval loss and learning rate, one colour
    per run, against the step or the training tokens seen (``by``)."""
    col = 0 if by == "step" else 1
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.07,
                        subplot_titles=("Training loss", "Eval loss", "Learning rate"))
    for i, run in enumerate(result["runs"]):
        color = COMPARE_COLORS[i % len(COMPARE_COLORS)]
        curves = result["curves"][run["name"]]
        for row, key in enumerate(("loss", "eval_loss", "learning_rate"), 1):
            points = [p for p in curves.get(key, []) if p[col] is not None]
            if not points:
                continue
            fig.add_trace(go.Scatter(x=[p[col] for p in points], y=[p[2] for p in points], name=run["name"],
                                     legendgroup=run["name"], showlegend=row == 1, line={"color": color},
                                     mode="lines+markers" if key == "eval_loss" else "lines"), row=row, col=1)
    fig.update_xaxes(title_text="step" if by == "step" else "training tokens", row=3, col=1)
    fig.update_layout(height=620, margin={"l": 50, "r": 20, "t": 40, "b": 40}, template="plotly_white",
                      legend={"orientation": "h", "y": -0.12})
    return fig

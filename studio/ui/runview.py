"""What a run looks like right now, read from its folder: chart, progress bar with ETA, status message.

Used by the Train tab's timer and by the Runs view. It only reads files, so a page reload, a second tab or
a restarted app shows the same run, and training never waits for a browser.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.core.estimate import fmt_bytes, fmt_seconds
from studio.ui.charts import empty_figure, max_steps_of, training_figure
from studio.ui import panels
from studio.ui.common import STATE_ICONS, error_md, esc, shown_path

ACTIVE = ("queued", "running")


@dataclass
class RunView:
    run_id: str
    state: str
    figure: object
    progress_html: str
    status_md: str
    n_events: int
    active: bool
    can_resume: bool
    can_stop: bool
    has_model: bool
    events: list
    folder: object = None
    task: str = ""

    def section(self):
        """The section the run's task adds to the Runs tab's view (``Task.run_section``: a ``RunSection``), or None.
        Read from the events the view holds, which came through the person's own runs."""
        from studio import tasks

        task = tasks.find(self.task) if self.task else None
        return task.run_section(self.events) if task is not None else None

    def chart(self, watch=None):
        """The training chart (shared plot data when a ``RunWatch`` is given)."""
        if watch is not None and self.folder is not None:
            return watch.figure(self.folder, self.events)
        return training_figure(self.events)


def view_key(view: RunView) -> str:
    """Changes exactly when the chart would: new events or a new state."""
    return f"{view.run_id}:{view.n_events}:{view.state}"


def progress(events: list[dict], state: str, step: int = 0, max_steps: int = 0) -> dict:
    """Step, share done, ETA, speed and memory from the log events after the last start."""
    starts = [i for i, e in enumerate(events) if e.get("type") == "start"]
    current = events[starts[-1]:] if starts else events
    logs = [e for e in current if e.get("type") == "log"]
    total = max_steps_of(events) or int(max_steps or 0)
    last = logs[-1] if logs else {}
    step = int(last.get("step", step) or 0)
    if state == "finished":
        step = max(step, total)
    eta = None
    if len(logs) >= 2 and total:
        span = logs[-1]["step"] - logs[0]["step"]
        if span > 0:
            per_step = (logs[-1].get("elapsed", 0) - logs[0].get("elapsed", 0)) / span
            eta = max(0.0, (total - step) * per_step)
    elif len(logs) == 1 and total and last.get("elapsed") and step:
        eta = max(0.0, (total - step) * last["elapsed"] / step)  # includes loading: pessimistic at first
    return {
        "step": step,
        "max_steps": total,
        "fraction": min(1.0, step / total) if total else 0.0,
        "eta_seconds": eta if state in ACTIVE else None,
        "tokens_per_second": last.get("tokens_per_second"),
        "memory_mb": last.get("memory_mb"),
        "loss": last.get("loss"),
    }


def progress_html(p: dict, state: str) -> str:
    pct = int(round(100 * p["fraction"]))
    color = {"failed": "#dc2626", "interrupted": "#d97706", "stopped": "#6b7280"}.get(state, "#2563eb")
    bits = [f"<b>{STATE_ICONS.get(state, '')} {esc(state)}</b>"]
    if p["max_steps"]:
        bits.append(f"step {p['step']}/{p['max_steps']} ({pct}%)")
    if p.get("eta_seconds") is not None:
        bits.append(f"about {fmt_seconds(p['eta_seconds'])} left")
    if p.get("loss") is not None:
        bits.append(f"loss {p['loss']:.3f}")
    if p.get("tokens_per_second"):
        bits.append(f"{p['tokens_per_second']:.0f} tokens/s")
    if p.get("memory_mb"):
        bits.append(f"memory {fmt_bytes(p['memory_mb'] * 2**20)}")
    return (
        '<div class="studio-progress" style="margin:4px 0 8px 0">'
        '<div style="background:#e5e7eb;border-radius:6px;height:14px;overflow:hidden">'
        f'<div style="background:{color};width:{pct}%;height:14px;transition:width .5s"></div></div>'
        f'<div style="font-size:0.92em;margin-top:4px">{" · ".join(bits)}</div></div>'
    )


def status_markdown(info, events: list[dict], position: int | None = None, wait: float | None = None,
                    model_at: str | None = None) -> str:
    """What happened and what to do next, in words."""
    lines = []
    errors = [e for e in events if e.get("type") == "error"]
    if info.state == "failed" and errors:
        return error_md(errors[-1].get("message", "training failed"), errors[-1].get("hint", ""))
    if info.state == "failed":
        return error_md(info.message or "training failed", "see error.log in the run folder")
    if info.state == "interrupted":
        lines.append("⚠ **Interrupted**: the process training it ended without finishing (the app or the machine stopped). "
                     "Press **Resume** (in the **Runs** tab) to continue from its last checkpoint.")
    elif info.state == "queued":
        where = f" number **{position}** in the queue," if position else ""
        when = f" It should start in about **{fmt_seconds(wait)}**." if wait is not None else ""
        lines.append(f"{STATE_ICONS['queued']} **Queued**:{where} waiting for a free device (people's runs take turns; "
                     f"each trains in a process of its own).{when}")
    elif info.state == "running":
        start = [e for e in events if e.get("type") == "start"]
        if not start:
            lines.append("▶ **Starting**: loading the data and the model…")
        else:
            s = start[-1]
            lines.append(f"▶ **Training** {esc(s.get('model'))} with {esc(s.get('method'))} on {esc(s.get('device_name') or s.get('device'))} "
                         f"({s.get('train_examples')} training / {s.get('eval_examples')} eval examples).")
            lines.append(_how_it_computes(s))
    elif info.state == "stopped":
        lines.append("■ **Stopped** on request. The model so far is saved; **Resume** (in the **Runs** tab) continues training.")
    elif info.state == "finished":
        end = [e for e in events if e.get("type") == "end"]
        runtime = f" in {fmt_seconds(end[-1]['runtime'])}" if end and end[-1].get("runtime") else ""
        where = panels.where(info.task)  # the try panel of the run's task says it
        lines.append(f"✓ **Finished**{runtime}. Try it in {where}.")
    evals = [e for e in events if e.get("type") == "eval" and "eval_loss" in e]
    if evals:
        first, last = evals[0], evals[-1]
        from studio import tasks

        task = tasks.find(info.task)  # each task says which figure goes with the loss
        note = task.progress_note(last) if task else ""
        extra = f" ({esc(note)})" if note else ""
        change = "" if last is first else f" → {last['eval_loss']:.3f} at step {last['step']}"  # one pass: no arrow
        lines.append(f"Eval loss {first['eval_loss']:.3f} at step {first['step']}{change}{extra}.")
    from studio.engine.overfit import curves_from_events, detect_overfitting

    turn = detect_overfitting(*curves_from_events(events)) if len(evals) >= 2 else None
    if turn is not None:  # said while the run goes on, so it can be stopped at the right point
        lines.append(f"⚠ **{'Overfitting' if turn.kind == 'overfitting' else 'Unstable'}**: {esc(turn.message)}. "
                     f"Try: {esc('; '.join(turn.hints[:3]))}.")
    tracked = [e for e in events if e.get("type") == "trackers"]
    if tracked:
        lines.append("Tracked in " + "; ".join(f"{esc(name)}: `{esc(at)}`" for name, at in tracked[-1]["trackers"].items()) + ".")
    for w in [e for e in events if e.get("type") == "warning"][-3:]:
        lines.append(f"⚠ {esc(w.get('message', ''))}")
    if info.has_model and info.state in ("finished", "stopped"):
        lines.append(f"Model saved in `{esc(model_at or f'{info.path}/model')}`.")
    return "\n\n".join(lines)


def snapshot(store, run_id: str | None, figure: bool = True, watch=None) -> RunView:
    """Everything the UI shows about one run (the chart only with ``figure``). No run: an empty view. ``store``: the
    runs as the person asking sees them; ``watch``: a ``RunWatch`` shared by every page (events read incrementally,
    the chart built once per new event)."""
    if not run_id:
        return RunView("", "", empty_figure(), "", "Start a run, or pick one in the **Runs** tab.", 0, False, False, False,
                       False, [])
    info = store.info(run_id)
    folder = store.folder(run_id)
    events = watch.events(folder) if watch is not None else folder.read_events()
    p = progress(events, info.state, info.step, info.max_steps)
    view = RunView(
        run_id=run_id, state=info.state, figure=None,
        progress_html=progress_html(p, info.state),
        status_md=status_markdown(info, events, *(_position(store, run_id) if info.state == "queued" else (None, None)),
                                  model_at=shown_path(store, f"{info.path}/model")),  # no server path to non-admins
        n_events=len(events), active=info.state in ACTIVE,
        can_resume=info.can_resume, can_stop=info.state in ACTIVE, has_model=info.has_model, events=events,
        folder=folder, task=info.task,
    )
    if figure:
        view.figure = view.chart(watch)
    return view


def _position(store, run_id: str) -> tuple[int | None, float | None]:
    """(place in the queue, estimated seconds to start) of a queued run."""
    position = getattr(store, "queue_position", None)
    wait = getattr(store, "estimated_wait", None)
    return (position(run_id) if position else None), (wait(run_id) if wait else None)


def _how_it_computes(start: dict) -> str:
    """One line on the speed choices a run made: precision, attention, batches, checkpointing (the start event,
    in the run folder, says why each was chosen)."""
    parts = [f"computes in {esc(start.get('precision') or '?')}"]
    if start.get("attention"):
        parts.append(f"attention: {esc(start['attention'])}")
    if "packing" in start:
        parts.append("padding-free batches" if start["packing"] else "padded, length-sorted batches")
    if "gradient_checkpointing" in start:
        parts.append("gradient checkpointing " + ("on" if start["gradient_checkpointing"] else "off"))
    if start.get("liger_kernels"):
        parts.append("Liger kernels")
    return "⚙ " + "; ".join(parts) + "."

"""The Train tab's Sweep panel: tick the settings to vary, give their ranges and a budget; the sweep
(``studio.server.sweep``) queues its trials as the person's own runs and its summary shows here."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import gradio as gr

from studio.ui.common import error_md, esc, explain, ok_md

# Settings a sweep may vary from the page: (config key, label, default range, log scale)
VARY = (("train.learning_rate", "Learning rate", "1e-5..1e-3", True),
        ("lora.r", "LoRA rank", "4..32", False),
        ("train.warmup_ratio", "Warmup share", "0..0.2", False),
        ("train.weight_decay", "Weight decay", "0..0.1", False))
_lock = threading.Lock()


def sweeps_dir(runs) -> Path:
    return runs.store.user_dir(runs.owner or "") / "sweeps"


def summary_md(runs, sweeps: dict) -> str:
    """The person's latest sweep: its trials and the best one."""
    folders = sorted(p for p in sweeps_dir(runs).glob("*") if (p / "summary.json").exists() or (p / "error.txt").exists())
    if not folders:
        return "No sweep yet."
    if (folders[-1] / "error.txt").exists():
        return error_md(f"the sweep {folders[-1].name} stopped", (folders[-1] / "error.txt").read_text(encoding="utf-8"))
    s = json.loads((folders[-1] / "summary.json").read_text(encoding="utf-8"))
    state = "done" if s["complete"] else "going on" if _alive(runs, sweeps) else "not finished (start it again to resume)"
    lines = [f"**Sweep {esc(folders[-1].name)}**: {len(s['trials'])} of {s['trials_planned']} trials, {state}.", "",
             f"| trial | run | state | {esc(s['metric'])} | settings |", "|---|---|---|---|---|"]
    best = (s.get("best") or {}).get("number")
    for t in s["trials"]:
        value = f"{t['value']:.4g}" if isinstance(t["value"], (int, float)) else "–"
        settings = ", ".join(f"{k.split('.')[-1]}={v:.3g}" if isinstance(v, float) else f"{k.split('.')[-1]}={v}"
                             for k, v in t["settings"].items())
        mark = " ✓ best" if t["number"] == best else ""
        lines.append(f"| {t['number']}{mark} | {esc(t['run'] or '')} | {t['state']} | {value} | {esc(settings)} |")
    return "\n".join(lines)


def _alive(runs, sweeps: dict) -> bool:
    with _lock:
        t = sweeps.get(runs.owner or "")
        return t is not None and t.is_alive()


def start(runs, sweeps: dict, config, ticked: list[str], ranges: list[str], trials, minutes) -> str:
    """Start a sweep of ``config`` over the ticked settings in a thread of the web server; a message. ``sweeps``:
    the app's owner -> sweep thread (one sweep per person at a time)."""
    from studio.server.sweep import Space, Sweep, parse_search

    if not ticked:
        return error_md("nothing to vary", "tick at least one setting under Sweep")
    items = []
    for key, label, _, log in VARY:
        if key in ticked:
            text = (ranges[[k for k, *_ in VARY].index(key)] or "").strip()
            items.append(f"{key}={text}{':log' if log and not text.endswith(':log') else ''}")
    if _alive(runs, sweeps):
        return error_md("a sweep of yours is going on", "wait for it to end; its trials show in the Runs tab")
    folder = sweeps_dir(runs) / time.strftime("%Y%m%d-%H%M%S")
    sweep = Sweep(config, Space(search=parse_search(items)), folder, runs, trials=int(trials or 0) or None,
                  minutes=float(minutes or 0) or None)
    thread = threading.Thread(target=_run, args=(sweep,), daemon=True, name=f"studio-sweep-{runs.owner or 'local'}")
    with _lock:
        sweeps[runs.owner or ""] = thread
    thread.start()
    return ok_md(f"Sweep started: {sweep.n_trials} trials, one at a time in your queue; each shows in the Runs tab.")


def _run(sweep) -> None:
    try:
        sweep.run()
    except Exception as err:  # noqa: BLE001 - written where the panel looks
        sweep.folder.mkdir(parents=True, exist_ok=True)
        (sweep.folder / "error.txt").write_text(f"{type(err).__name__}: {err}", encoding="utf-8")


def build(ctx, inputs: list, make_config):
    """``inputs``: the Train tab's knob widgets; ``make_config(model_source, data, values) -> StudioConfig``."""
    with gr.Accordion("Sweep: try several settings, keep the best", open=False, elem_id="train-sweep"):
        gr.Markdown("Tick what to vary and give each a range (low..high). Optuna picks each trial's settings and "
                    "stops trials falling behind on eval loss. Trials are your own runs, queued one at a time. "
                    "Without a browser: `python -m studio sweep CONFIG --search KEY=LOW..HIGH`.")
        ticked = gr.CheckboxGroup([(label, key) for key, label, *_ in VARY], label="Vary", elem_id="sweep-vary")
        with gr.Row():
            ranges = [gr.Textbox(value=default, label=f"{label} range" + (" (log scale)" if log else ""),
                                 elem_id=f"sweep-range-{key.replace('.', '-')}") for key, label, default, log in VARY]
        with gr.Row():
            trials = gr.Number(value=4, minimum=1, maximum=50, precision=0, label="Trials")
            minutes = gr.Number(value=0, minimum=0, label="Time budget, minutes (0: none)")
            go = gr.Button("▶ Start sweep", elem_id="sweep-start")
            show = gr.Button("↻ Show sweep", elem_id="sweep-show")
        message = gr.Markdown(elem_id="sweep-message")
        table = gr.Markdown(elem_id="sweep-summary")

    def start_sweep(model_source, data, vary, trials_n, budget, request: gr.Request, *rest):  # (request before *rest)
        ranges_now, values = list(rest[:len(VARY)]), rest[len(VARY):]
        if not (data or {}).get("path"):
            return error_md("no training data yet", "pick a sample or upload a file in the Data tab")
        try:
            runs = ctx.runs(request)
            config = make_config(model_source, data, values)
            return start(runs, ctx.sweeps, config, list(vary or []), ranges_now, trials_n, budget)
        except Exception as err:  # noqa: BLE001 - shown as a message
            return explain(err)

    def show_sweep(request: gr.Request = None):
        try:
            return summary_md(ctx.runs(request), ctx.sweeps)
        except Exception as err:  # noqa: BLE001
            return explain(err)

    go.click(start_sweep, [ctx.model_source, ctx.data, ticked, trials, minutes] + ranges + list(inputs), message,
             api_name="start_sweep").then(show_sweep, None, table, api_visibility="private")
    show.click(show_sweep, None, table, api_name="show_sweep")
    return {"ticked": ticked, "ranges": ranges, "go": go, "show": show, "message": message, "table": table}

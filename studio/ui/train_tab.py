"""Train tab: presets, knobs generated from the config metadata, an estimate before launch, a live chart."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from studio import tasks
from studio.core import estimate as est
from studio.core.config import StudioConfig
from studio.ui import help as texts
from studio.ui import sweep_panel
from studio.ui.charts import empty_figure
from studio.ui.common import error_md, esc, explain, ok_md, shown_path
from studio.ui.presets import DEFAULT_PRESET, PRESETS, preset_values
from studio.ui.runview import snapshot, view_key
from studio.ui.widgets import (ADVANCED, BASIC, LAUNCH, all_fields, build_config, config_value, key_of, knob_spec,
                                section_class, task_fields, widget)


def train_keys() -> tuple[str, ...]:
    """The Train tab's inputs in order (``/start_training`` takes their values after the run name): the common
    settings, then every installed task's own section."""
    return tuple(key_of(s, n) for s, n in all_fields())


def __getattr__(name: str):
    if name == "KEYS":  # the inputs as the tasks installed now have them (a task registered later included)
        return train_keys()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _default_model(task_name: str) -> str:
    """The embedded model the presets pick for a task."""
    from studio import tasks

    task = tasks.find(task_name)
    return task.default_model if task else "smollm2"


def section_of(task_name: str) -> str:
    """The config section of a task's own settings ("" when it has none or is not installed)."""
    from studio import tasks

    task = tasks.find(task_name or "")
    return task.section if task else ""


def initial_values(preset: str = DEFAULT_PRESET) -> dict:
    cfg = StudioConfig()
    values = {k: config_value(cfg, k) for k in train_keys()}
    values.update(preset_values(preset))
    return values


def summary_md(model_source: str, data: dict) -> str:
    model = f"**Model:** {esc(model_source or 'none (choose one in the Model tab)')}"
    if data and data.get("path"):
        d = f"**Data:** {esc(data.get('name') or Path(data['path']).name)} ({data.get('records', '?')} records, {esc(data.get('format', '?'))})"
    else:
        d = "**Data:** none yet: pick a sample or upload a file in the **Data** tab"
    return f"{model} · {d}"


def with_panels(cfg: StudioConfig, panels) -> StudioConfig:
    """The config with the settings of its task's own panel (``{"task", "config", "error"}``, see ``build``)."""
    for p in panels or ():
        if isinstance(p, dict) and p.get("task") == cfg.task:
            if p.get("error"):
                raise ValueError(p["error"])
            d = cfg.to_dict()
            for key, value in (p.get("config") or {}).items():
                d[key] = {**d[key], **value} if isinstance(value, dict) and isinstance(d.get(key), dict) else value
            cfg = StudioConfig.from_dict(d)
    return cfg


def estimate_text(ctx, values: dict, model_source: str, info: dict, data: dict, runs=None, panels=()) -> tuple[str, str]:
    """The estimate in words and the config YAML that Start would submit (its data files as ``runs`` may see
    them: ``studio.ui.common.shown_path``)."""
    from studio import tasks

    try:
        cfg = with_panels(build_config(values, model_source, data, task=values.get("task")), panels)
    except Exception as err:  # noqa: BLE001 - shown as a message
        return explain(err), ""
    if not info or info.get("source") != model_source:
        info = ctx.infos.get(model_source)
    shape = est.ModelShape.from_describe(info)
    e = est.estimate_for_config(cfg, shape, n_train=int((data or {}).get("train_records") or (data or {}).get("records") or 0),
                                avg_tokens=float((data or {}).get("avg_tokens") or 0),
                                vocab_logits=tasks.get(cfg.task).vocab_logits)
    fit = {"yes": "✓ fits", "tight": "⚠ tight", "no": "✗ will not fit"}[e.fits]
    lines = [f"**Estimate:** about **{est.fmt_bytes(e.total_bytes)}** of {est.fmt_bytes(e.available_bytes)} free "
             f"on {esc(e.device)} ({fit}); **~{est.fmt_seconds(e.step_seconds)} a step**, "
             f"**~{est.fmt_seconds(e.total_seconds)}** for {e.steps} steps including loading."
             f" Trains {e.trainable_parameters / 1e6:.2f} M weights; {esc(e.precision_reason or e.precision)}."]
    for w in e.warnings + advice(cfg, info):
        lines.append(f"⚠ **{esc(w)}**")
    display = cfg.to_dict()
    display["output_dir"] = "(a new folder in the runs directory)"
    for key in ("train", "eval"):
        if (display.get("data") or {}).get(key):
            display["data"][key] = shown_path(runs, display["data"][key])
    return "\n\n".join(lines), StudioConfig.from_dict(display).to_yaml()


def advice(cfg: StudioConfig, info: dict) -> list[str]:
    """Settings that will run but probably not do what the person wants."""
    from studio import tasks

    out = []
    if cfg.method == "full" and cfg.train.learning_rate > 2e-4:
        out.append(f"a learning rate of {cfg.train.learning_rate:g} is high for full fine-tuning and can wreck the model; "
                   "1e-5 to 5e-5 is usual")
    if info:
        out += tasks.get(cfg.task).model_advice(cfg, info)  # model and task mismatch, in the task's words
    return out


def launch_md(devices, cluster: str, shared: bool = False) -> str:
    """What the machine offers runs, in words, above the launch settings. ``cluster``: the operator's Ray address
    when runs here may use it (a shared studio names no address)."""
    here = devices.describe() if devices is not None else "this machine"
    lines = [f"**This machine:** {esc(here)}. Runs wait in a queue until their devices are free; each gets its own GPUs."]
    if devices is not None and len(devices.gpus) > 1:
        lines.append("**Processes per node** above 1 trains data-parallel on that many GPUs (torchrun): the same "
                     "global batch in less time. **ddp** works with every method; **fsdp** shards the weights.")
    if cluster:
        where = "the studio's Ray cluster" if shared else f"the Ray cluster at `{esc(cluster)}`"
        lines.append(f"**Ray cluster:** pick backend **ray** to run this as a job on {where} (set by the operator).")
    return "\n\n".join(lines)


def build(ctx):
    keys = train_keys()  # the tasks installed now, plug-ins registered before the app was built included
    gr.Markdown(texts.TRAIN)
    summary = gr.Markdown(summary_md("smollm2", {}), elem_id="train-summary")
    with gr.Row():
        preset = gr.Radio(list(PRESETS), value=DEFAULT_PRESET, label="Preset", scale=1,
                          info="A starting point; every knob below can still be changed.")
        about = gr.Markdown(PRESETS[DEFAULT_PRESET]["about"], elem_id="preset-about")
    start_values = initial_values()
    locked = ctx.access.policy.locked  # the instructor's fixed settings: shown, not editable, applied by the server
    allowed = ctx.access.policy.allowed_backends(ctx.access.shared)  # never inline; the server checks again
    backends = [b for b in allowed if b != "ray" or ctx.cluster] or allowed  # ray: with a cluster set
    widgets: dict[str, gr.components.Component] = {}

    def make(section: str, name: str):
        key = key_of(section, name)
        spec = knob_spec(section_class(section), name)
        if key == "launch.backend":
            help_text = "local: a process of its own on this machine." + \
                (" ray: a job on the operator's Ray cluster." if "ray" in backends else "")
            spec = dict(spec, choices=backends, help=help_text)
            start_values[key] = start_values[key] if start_values[key] in backends else backends[0]
        if key == "train.report_to" and ctx.access.policy.trackers:  # the operator's choice of trackers
            spec = dict(spec, choices=[t for t in spec["choices"] if t in ctx.access.policy.trackers])
        if key in locked:
            spec = dict(spec, help=f"Fixed by the instructor. {spec['help']}")
            widgets[key] = widget(spec, value=locked[key], interactive=False, elem_id=f"knob-{key.replace('.', '-')}")
            return
        widgets[key] = widget(spec, value=start_values[key], elem_id=f"knob-{key.replace('.', '-')}")

    with gr.Row(equal_height=False):
        for section, name in BASIC[:4]:
            make(section, name)
    with gr.Row(equal_height=False):
        for section, name in BASIC[4:]:
            make(section, name)
    # Each task's own settings, shown while a task that uses them is chosen (preference.beta for DPO and KTO)
    sections = list(dict.fromkeys(section for section, _ in task_fields()))
    section_rows = []
    for sec in sections:
        with gr.Row(equal_height=False, visible=section_of(start_values["task"]) == sec,
                    elem_id=f"train-settings-{sec}") as row:
            for section, name in task_fields():
                if section == sec:
                    make(section, name)
        section_rows.append(row)
    with gr.Accordion("More settings", open=False):
        for i in range(0, len(ADVANCED), 4):
            with gr.Row(equal_height=False):
                for section, name in ADVANCED[i:i + 4]:
                    make(section, name)
    devices = ctx.store.devices
    gpus = len(devices.gpus) if devices is not None else 0
    cluster = ctx.cluster if "ray" in backends else ""
    with gr.Accordion("Where it trains", open=False, visible=gpus > 1 or bool(cluster), elem_id="train-launch"):
        gr.Markdown(launch_md(devices, cluster, ctx.access.shared))
        with gr.Row(equal_height=False):
            for section, name in LAUNCH:
                make(section, name)
        widgets["launch.processes"].maximum = max(gpus, 1)  # one process per GPU
    # a task's own settings (its ``train_panel`` module, Gradio only), shown while it is the chosen task
    panels = [importlib.import_module(t.train_panel).build(ctx, widgets["task"]) for t in tasks.all_tasks()
              if getattr(t, "train_panel", "")]
    inputs = [widgets[k] for k in keys] + panels
    estimate_box = gr.Markdown(elem_id="train-estimate")
    with gr.Row():
        run_name = gr.Textbox(label="Run name (optional)", placeholder="pirate-style", scale=3)
        start = gr.Button("▶ Start training", variant="primary", scale=1, elem_id="start-training")
        stop = gr.Button("■ Stop", variant="stop", scale=1, interactive=False, elem_id="stop-training")
    message = gr.Markdown(elem_id="train-message")
    sweep = sweep_panel.build(ctx, inputs, lambda source, data, vals: build_config(
        dict(zip(keys, vals)), source, data, task=dict(zip(keys, vals)).get("task")))
    progress = gr.HTML(elem_id="train-progress")
    chart = gr.Plot(empty_figure(), label="Loss and learning rate", elem_id="train-chart")
    status = gr.Markdown(elem_id="train-status")
    with gr.Accordion("The config this run will use (replay it with: python -m studio train config.yaml)", open=False):
        config_view = gr.Code(language="yaml", label="config.yaml", interactive=False)
    timer = gr.Timer(1.0, active=False)
    seen = gr.State("")

    # ---- presets ---------------------------------------------------------------------------------
    def apply_preset(name, task):
        values = preset_values(name)
        model = PRESETS[name]["model"]
        model = (_default_model(task) or gr.skip()) if model else gr.skip()  # "": none embedded, keep the person's
        if "model.source" in locked:
            model = gr.skip()
        return [PRESETS[name]["about"], model] + [values.get(k, gr.skip()) if k not in locked else gr.skip() for k in keys] + \
            [gr.skip() for _ in panels]

    preset.input(apply_preset, [preset, widgets["task"]], [about, ctx.model_source] + inputs,
                 api_name="apply_preset", show_progress="hidden")

    # ---- the estimate and the config preview --------------------------------------------------
    def re_estimate(model_source, info, data, request: gr.Request, *vals):  # (the request only before *vals)
        try:
            runs = ctx.runs(request)
        except Exception:  # noqa: BLE001 - not signed in yet: paths shown by name
            runs = SimpleNamespace(shared=True, admin=False)
        return estimate_text(ctx, dict(zip(keys, vals)), model_source, info, data, runs, vals[len(keys):]) + \
            (summary_md(model_source, data),)

    est_inputs = [ctx.model_source, ctx.model_info, ctx.data] + inputs
    gr.on([w.change for w in inputs] + [ctx.model_source.change, ctx.model_info.change, ctx.data.change],
          re_estimate, est_inputs, [estimate_box, config_view, summary], api_name="train_estimate",
          show_progress="hidden", trigger_mode="always_last")

    def task_from(data, info):
        from studio import tasks

        fmt = (data or {}).get("format")
        if fmt:  # the data's task, or one that also suits the model (chat data and a T5 model: seq2seq)
            return tasks.for_data_and_model(fmt, info).name
        return tasks.for_model(info).name if info else gr.skip()

    gr.on([ctx.data.change, ctx.model_info.change], task_from, [ctx.data, ctx.model_info], widgets["task"],
          api_visibility="private", show_progress="hidden")

    def show_settings(task):
        mine = section_of(task)
        return [gr.update(visible=sec == mine) for sec in sections]

    if section_rows:
        widgets["task"].change(show_settings, widgets["task"], section_rows, api_visibility="private",
                               show_progress="hidden")

    widgets["data.max_length"].change(lambda v: int(v or 0) or gr.skip(), widgets["data.max_length"], ctx.max_length,
                                      api_visibility="private", show_progress="hidden")

    # ---- start, watch, stop ------------------------------------------------------------------
    def start_run(model_source, data, name, request: gr.Request, *vals):  # (Gradio passes the request only before *vals)
        values = dict(zip(keys, vals))
        if not (data or {}).get("path"):
            return error_md("no training data yet", "pick a sample or upload a file in the Data tab"), gr.skip(), gr.skip(), gr.skip()
        try:
            cfg = with_panels(build_config(values, model_source, data, task=values.get("task")), vals[len(keys):])
            run_id = ctx.runs(request).submit(cfg, name=name or Path(data["path"]).stem)
        except Exception as err:  # noqa: BLE001 - shown as a message
            return explain(err), gr.skip(), gr.skip(), gr.skip()
        return ok_md(f"Started **{esc(run_id)}**. It trains in the background; reloading the page does not stop it."), \
            run_id, gr.Timer(active=True), ""

    start.click(start_run, [ctx.model_source, ctx.data, run_name] + inputs, [message, ctx.run_id, timer, seen],
                api_name="start_training")

    def poll(run_id, seen_key, request: gr.Request = None):
        """Read the run folder; redraw the chart only when new events arrived (built once for all watchers)."""
        try:
            view = snapshot(ctx.runs(request), run_id, figure=False, watch=ctx.watch)
        except Exception as err:  # noqa: BLE001
            return gr.skip(), "", explain(err), gr.Timer(active=False), seen_key, gr.update(interactive=False)
        key = view_key(view)
        if key == seen_key:  # nothing new: leave the chart (and the person's zoom) alone
            figure = gr.skip()
        else:
            figure = view.chart(ctx.watch) if run_id else view.figure
        return (figure, view.progress_html, view.status_md, gr.Timer(active=view.active), key,
                gr.update(interactive=view.can_stop))

    watch_outputs = [chart, progress, status, timer, seen, stop]
    # queue=False: a poll takes about a millisecond, so it skips Gradio's queue and its event stream (one plain
    # request and response, a fraction of the web process's time per poll when 20 pages watch)
    timer.tick(poll, [ctx.run_id, seen], watch_outputs, api_name="poll_run", show_progress="hidden",
               concurrency_limit=None, queue=False)
    ctx.run_id.change(poll, [ctx.run_id, gr.State("")], watch_outputs, api_visibility="private", show_progress="hidden")

    def stop_run(run_id, request: gr.Request = None):
        if not run_id:
            return error_md("no run to stop")
        try:
            ctx.runs(request).stop(run_id)
        except Exception as err:  # noqa: BLE001
            return explain(err)
        return ok_md(f"Stopping **{esc(run_id)}** after its current step; the model so far will be saved.")

    stop.click(stop_run, ctx.run_id, message, api_name="stop_run")

    # On page load: follow the run that is training now (a reload or a second tab sees it), else the newest.
    def follow_latest(current, request: gr.Request = None):
        if current:
            return gr.skip()
        try:
            runs = ctx.runs(request).list()
        except Exception:  # noqa: BLE001 - not signed in yet
            return gr.skip()
        active = [r for r in runs if r.state in ("running", "queued")]
        pick = (active or runs or [None])[0]
        return pick.id if pick else gr.skip()

    ctx.on_load.append((follow_latest, [ctx.run_id], [ctx.run_id]))
    ctx.on_load.append((re_estimate, est_inputs, [estimate_box, config_view, summary]))
    return {"widgets": widgets, "start": start, "stop": stop, "timer": timer, "preset": preset, "keys": keys,
            "task_settings": dict(zip(sections, section_rows)), "sweep": sweep}

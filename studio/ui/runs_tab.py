"""Runs view: every run in the store with its status and whole chart; resume, stop, replay command."""

from __future__ import annotations

import shlex

import gradio as gr

from studio.ui import help as texts
from studio.ui import panels
from studio.ui.charts import compare_figure, empty_figure
from studio.ui.common import STATE_ICONS, esc, explain, ok_md, run_label, short_model, shown_path, when
from studio.ui.runview import snapshot

COLUMNS = ("Run", "State", "Steps", "Task", "Method", "Model", "Started", "Message")


def runs_table(store) -> list[list]:
    """``store``: the runs as the person asking sees them (``ctx.runs(request)``)."""
    rows = []
    for r in store.list():
        place = store.queue_position(r.id) if r.state == "queued" else None
        rows.append([r.id, f"{STATE_ICONS.get(r.state, '')} {r.state}" + (f" (#{place})" if place else ""), f"{r.step}/{r.max_steps}" if r.max_steps else str(r.step),
                     r.task, r.method, short_model(r.model), when(r.created), (r.message or "")[:80]])
    return rows


def run_choices(store, *, panel: str | None = None, with_model: bool = False,
                chats: bool = False) -> list[tuple[str, str]]:
    """Runs for a dropdown; ``panel``: only runs whose task is tried in that try panel (a module's name);
    ``chats``: only runs whose tuned model answers chat messages (``Task.chats``: what the API serves)."""
    out = []
    for r in store.list():
        if panel and panels.panel_name(r.task) != panel:
            continue
        if chats and not panels.task_chats(r.task):
            continue
        if with_model and not r.has_model:
            continue
        out.append((run_label(r), r.id))
    return out


def command_md(store, run_id: str) -> str:
    folder = store.folder(run_id).path
    cfg = shlex.quote(shown_path(store, folder / "config.yaml"))
    return (f"Replay or continue without a browser:\n\n```bash\npython -m studio train {cfg} --resume\n"
            f"python -m studio chat {shlex.quote(shown_path(store, folder))} --prompt \"Hello\"\n```")


def compare_md(result: dict) -> str:
    """The settings that differ, the final figures with the best in bold, and the saved replies, as markdown."""
    names = [r["name"] for r in result["runs"]]
    head = "| | " + " | ".join(esc(n) for n in names) + " |\n|---|" + "---|" * len(names) + "\n"

    def cell(v) -> str:
        if isinstance(v, list):
            return esc(", ".join(map(str, v))) or "(none)"
        return "–" if v is None else esc(f"{v:.4g}" if isinstance(v, float) else str(v))

    out = ["**Settings that differ**", ""]
    if result["settings"]:
        out.append(head + "\n".join(f"| `{esc(s['key'])}` | " + " | ".join(cell(v) for v in s["values"]) + " |"
                                    for s in result["settings"]))
    else:
        out.append("None: the runs were set up alike.")
    rows = []
    for m in result["metrics"]:
        cells = [f"**{cell(v)}** ✓" if i == m["best"] else cell(v) for i, v in enumerate(m["values"])]
        label = esc(m["name"]) + (f" ({m['better']} is better)" if m["better"] else "")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    out += ["", "**Final figures** (✓ best)", "", head + "\n".join(rows)]
    for item in result["replies"]:
        out += ["", f"**Prompt:** {esc(item['prompt'][:300])}", ""]
        out += [f"- *{esc(n)}*: {esc(str(r or '').strip()[:300])}" for n, r in zip(names, item["replies"])]
    if not result["replies"]:
        out += ["", "Replies side by side appear once each run is evaluated (Evaluate tab, or "
                "`python -m studio eval RUN`)."]
    return "\n".join(out)


def section_updates(view=None) -> tuple:
    """The Runs tab's task section of a run view (its heading and line, its table), hidden when the task adds none."""
    try:
        section = view.section() if view is not None else None
    except Exception as err:  # noqa: BLE001 - a task's section that fails leaves the rest of the view
        return gr.update(value=explain(err), visible=True), gr.update(visible=False)
    if section is None:
        return gr.update(value="", visible=False), gr.update(visible=False)
    note = f"#### {esc(section.title)}" + (f"\n\n{esc(section.note)}" if section.note else "")
    rows = [list(r) for r in section.rows]
    headers = [str(h) for h in section.headers] or [str(i + 1) for i in range(len(rows[0]) if rows else 0)]
    table = {"headers": headers, "data": rows}
    return gr.update(value=note, visible=True), gr.update(value=table, visible=bool(rows))


def build(ctx):
    gr.Markdown(texts.RUNS)
    with gr.Row():
        pick = gr.Dropdown(choices=[], label="Run", scale=4, elem_id="runs-pick", allow_custom_value=False)
        refresh = gr.Button("↻ Refresh", scale=1)
    table = gr.Dataframe(headers=list(COLUMNS), value=[], interactive=False, wrap=True, elem_id="runs-table",
                         label="All runs (click a row to open it)")
    with gr.Row():
        resume = gr.Button("▶ Resume", interactive=False, elem_id="runs-resume")
        stop = gr.Button("■ Stop", variant="stop", interactive=False, elem_id="runs-stop")
        to_chat = gr.Button("Chat with this run", interactive=False, elem_id="runs-chat")
    message = gr.Markdown(elem_id="runs-message")
    progress = gr.HTML()
    chart = gr.Plot(empty_figure("Pick a run to see its chart."), label="Loss and learning rate", elem_id="runs-chart")
    status = gr.Markdown()
    section_note = gr.Markdown(visible=False, elem_id="runs-task-note")  # what the run's task adds (Task.run_section)
    section_table = gr.Dataframe(visible=False, interactive=False, wrap=True, show_label=False, elem_id="runs-task-table")
    with gr.Accordion("Config and command", open=False):
        command = gr.Markdown()
        config_view = gr.Code(language="yaml", label="config.yaml", interactive=False)
    with gr.Accordion("Compare runs", open=False, elem_id="runs-compare"):
        with gr.Row():
            compare_pick = gr.Dropdown(choices=[], multiselect=True, max_choices=8, scale=4, elem_id="compare-pick",
                                       label="Runs to compare (two to eight)")
            compare_by = gr.Radio(["step", "tokens"], value="step", label="Curves by", scale=1)
            compare_btn = gr.Button("Compare", scale=1, elem_id="compare-runs")
        compare_chart = gr.Plot(empty_figure("Pick two to eight runs and press Compare."), elem_id="compare-chart",
                                label="Loss, eval loss and learning rate")
        compare_text = gr.Markdown(elem_id="compare-text")
        gr.Markdown("Without a browser: `python -m studio compare RUN RUN ... [--json]`")
    timer = gr.Timer(2.0, active=False)

    def compare_choices(request: gr.Request = None):
        try:
            return gr.update(choices=run_choices(ctx.runs(request)))
        except Exception:  # noqa: BLE001 - not signed in
            return gr.update(choices=[])

    def do_compare(run_ids, by, request: gr.Request = None):
        from studio.server.compare import compare

        try:
            runs = ctx.runs(request)
            ids = list(run_ids or [])
            paths = [runs.folder(r).path for r in ids]  # the person's own runs only; others read as missing
            result = compare(paths, names=ids)
        except Exception as err:  # noqa: BLE001 - shown as a message
            return gr.skip(), explain(err)
        return compare_figure(result, by), compare_md(result)

    compare_btn.click(do_compare, [compare_pick, compare_by], [compare_chart, compare_text], api_name="compare_runs")
    compare_by.change(do_compare, [compare_pick, compare_by], [compare_chart, compare_text], api_visibility="private")
    refresh.click(compare_choices, None, compare_pick, api_visibility="private")

    def list_runs(current, followed, request: gr.Request = None):
        try:
            runs = ctx.runs(request)
        except Exception:  # noqa: BLE001 - not signed in
            return [], gr.update(choices=[], value=None)
        choices = run_choices(runs)
        ids = [c[1] for c in choices]
        value = current if current in ids else (followed if followed in ids else (ids[0] if ids else None))
        return runs_table(runs), gr.update(choices=choices, value=value)

    def show(run_id, request: gr.Request = None):
        if not run_id:
            return ("", gr.skip(), "Nothing picked yet.", "", "", gr.update(interactive=False), gr.update(interactive=False),
                    gr.update(interactive=False), gr.Timer(active=False)) + section_updates()
        try:
            runs = ctx.runs(request)  # the person's own runs: the view, its events and its task section come from here
            view = snapshot(runs, run_id, watch=ctx.watch)
            cfg = runs.folder(run_id).config_file.read_text(encoding="utf-8")
            cmd = command_md(runs, run_id)
        except Exception as err:  # noqa: BLE001
            return ("", gr.skip(), explain(err), "", "", gr.update(interactive=False), gr.update(interactive=False),
                    gr.update(interactive=False), gr.Timer(active=False)) + section_updates()
        return (view.progress_html, view.figure, view.status_md, cmd, cfg, gr.update(interactive=view.can_resume),
                gr.update(interactive=view.can_stop), gr.update(interactive=view.has_model),
                gr.Timer(active=view.active)) + section_updates(view)

    view_outputs = [progress, chart, status, command, config_view, resume, stop, to_chat, timer, section_note, section_table]
    refresh.click(list_runs, [pick, ctx.run_id], [table, pick], api_name="list_runs")
    pick.change(show, pick, view_outputs, api_name="show_run", show_progress="hidden")

    def tick(run_id, request: gr.Request = None):
        try:
            table_rows = runs_table(ctx.runs(request))
        except Exception:  # noqa: BLE001
            table_rows = gr.skip()
        return show(run_id, request) + (table_rows,)

    timer.tick(tick, pick, view_outputs + [table], api_visibility="private", show_progress="hidden",
               concurrency_limit=None, queue=False)  # as the Train tab's poll: no queue, no event stream

    def select_row(evt: gr.SelectData, rows):
        try:
            row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
            return rows.iloc[row, 0] if hasattr(rows, "iloc") else rows[row][0]
        except Exception:  # noqa: BLE001 - a click outside the data
            return gr.skip()

    table.select(select_row, table, pick, api_visibility="private")

    def do_resume(run_id, request: gr.Request = None):
        try:
            ctx.runs(request).resume(run_id)
        except Exception as err:  # noqa: BLE001
            return explain(err), gr.skip()
        return ok_md(f"Resumed **{esc(run_id)}** from its last checkpoint."), run_id

    resume.click(do_resume, pick, [message, ctx.run_id], api_name="resume_run").then(
        show, pick, view_outputs, api_visibility="private")

    def do_stop(run_id, request: gr.Request = None):
        try:
            ctx.runs(request).stop(run_id)
        except Exception as err:  # noqa: BLE001
            return explain(err)
        return ok_md(f"Stopping **{esc(run_id)}** after its current step.")

    stop.click(do_stop, pick, message, api_name="stop_listed_run")

    def chat_with(run_id, request: gr.Request = None):
        """Follow the run and open the tab its task is tried in (the Chat tab for chat-like runs)."""
        try:
            panel = panels.of_task(ctx.runs(request).info(run_id).task)
        except Exception:  # noqa: BLE001 - a run that went away: the tab stays
            return gr.skip(), gr.skip()
        tab_id = getattr(panel, "TAB_ID", None)
        return run_id, (gr.Tabs(selected=tab_id) if tab_id in ctx.tabs_by_id else gr.skip())

    to_chat.click(chat_with, pick, [ctx.run_id, ctx.tabs], api_visibility="private")

    # A run started or resumed from another tab becomes the one shown here.
    def follow(followed, request: gr.Request = None):
        return list_runs(followed, followed, request)

    ctx.run_id.change(follow, ctx.run_id, [table, pick], api_visibility="private")
    ctx.tabs_by_id["runs"].select(list_runs, [pick, ctx.run_id], [table, pick], api_visibility="private").then(
        show, pick, view_outputs, api_visibility="private", show_progress="hidden")  # the picked run as it is now
    ctx.tabs_by_id["runs"].select(compare_choices, None, compare_pick, api_visibility="private")
    ctx.on_load.append((list_runs, [pick, ctx.run_id], [table, pick]))
    ctx.on_load.append((compare_choices, [], [compare_pick]))
    return {"pick": pick, "table": table, "resume": resume}

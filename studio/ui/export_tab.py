"""Export tab: download a run's adapter or merged model as a zip, read its model card and replay command,
push it to the Hugging Face Hub, or serve it
through the studio's OpenAI-compatible endpoint (``serve_panel``). The work is done by ``studio.export``; this module only shows it.

The Hub token is an input of the push handler only: it is not kept in any state, file or log, and the
token box is emptied after each push."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from studio.ui import gguf_panel, serve_panel
from studio.ui.common import esc, explain, ok_md, refresh_when_shown, shown_path
from studio.ui.served import links_html

INTRO = """### 6 · Export
Take your model with you. A **LoRA adapter** is small (megabytes) and needs the base model to run; a
**merged** model has the adapter folded into the base weights and loads anywhere with plain
`transformers`. Every export carries a model card (README.md), the run's config and the command that
trains it again."""

EXPORTABLE = ("finished", "stopped")


def export_dir(run_path: str | Path, merged: bool) -> Path:
    """Where the tab writes a run's export (inside the run folder, replaced on each export)."""
    return Path(run_path) / ("export-merged" if merged else "export")


def describe(runs, run_id: str | None) -> tuple[str, str, str]:
    """(what this run exports as, model card markdown, replay command) for a picked run; ``runs``: the runs as
    the person asking sees them (``ctx.runs(request)``)."""
    from studio.core.config import StudioConfig
    from studio.export import model_card, model_kind, replay_command

    if not run_id:
        return "Pick a finished or stopped run.", "", ""
    info = runs.info(run_id)
    folder = runs.folder(run_id)
    cfg = StudioConfig.load(folder.config_file)
    command = replay_command(cfg, folder.path, str(folder.config_file))
    for path in (str(folder.config_file), str(folder.path)):  # the whole path to an admin only
        command = command.replace(path, shown_path(runs, path))
    if not info.has_model or info.state not in EXPORTABLE:
        return (f"◷ Run **{esc(run_id)}** is {esc(info.state)}: it can be exported once it has finished or been stopped.",
                "", command)
    kind = model_kind(folder)
    if kind == "adapter":
        from studio import tasks

        tag = tasks.get(info.task).pipeline_tag
        what = ("This run trained a **LoRA adapter**. Export it as is (small), or tick **Merge** for a full model "
                f"that needs no `peft` and works with `pipeline(\"{tag}\")`.")
    else:
        what = "This run trained **every weight**: the export is the full model."
    return what, card_markdown(model_card(folder, cfg, kind)), command


def card_markdown(card: str) -> str:
    """A model card for display: its metadata header shown as YAML instead of run-on text."""
    if card.startswith("---\n"):
        end = card.find("\n---\n", 4)
        if end > 0:
            return f"```yaml\n{card[4:end]}\n```\n" + card[end + 5:]
    return card


def export(runs, run_id: str | None, merge: bool, progress=None) -> dict:
    from studio.core.errors import StudioError
    from studio.export import export_run

    if not run_id:
        raise StudioError("pick a run first")
    folder = runs.folder(run_id)
    return export_run(folder.path, export_dir(folder.path, merge), merge=bool(merge), make_zip=True, overwrite=True,
                      progress=progress)


def push(runs, run_id: str | None, merge: bool, repo_id: str, token: str, private: bool, progress=None) -> str:
    """Export (when not done yet) and upload; returns the repository's address."""
    from studio.core.errors import StudioError
    from studio.export import push_to_hub

    if not run_id:
        raise StudioError("pick a run first")
    if not (token or "").strip():
        raise StudioError("paste a Hugging Face token with write access (huggingface.co/settings/tokens) to push")
    folder = runs.folder(run_id)
    out = export_dir(folder.path, merge)
    if not (out / "README.md").exists() or (out / "README.md").stat().st_mtime < folder.model_dir.stat().st_mtime:
        export(runs, run_id, merge, progress=None)
    return push_to_hub(out, repo_id, token, private=bool(private), progress=progress)


def build(ctx):
    gr.Markdown(INTRO)
    with gr.Row():
        pick = gr.Dropdown(choices=_initial_choices(ctx), value=None, label="Run to export", scale=4, elem_id="export-pick")
        refresh = gr.Button("↻ Refresh", scale=1)
    what = gr.Markdown(elem_id="export-what")
    with gr.Row():
        merge = gr.Checkbox(value=False, label="Merge the LoRA adapter into the base model (a full model)",
                            info="Bigger download; loads with AutoModelForCausalLM / pipeline alone.")
        go = gr.Button("⬇ Export", variant="primary", elem_id="export-go")
    message = gr.Markdown(elem_id="export-message")
    download = gr.HTML(label="Download", elem_id="export-file")
    load_code = gr.Code(label="Load it with transformers / peft", language="python", interactive=False)
    command = gr.Code(label="Train this run again (replay command)", language="shell", interactive=False,
                      elem_id="export-command")
    with gr.Accordion("Model card (README.md)", open=True):
        card = gr.Markdown(elem_id="export-card")
    gguf = gguf_panel.build(ctx, pick)
    serve = serve_panel.build(ctx) if getattr(ctx, "serving", None) is not None else {}
    with gr.Accordion("Push to the Hugging Face Hub", open=False):
        with gr.Row():
            repo = gr.Textbox(label="Repository", placeholder="your-name/my-model", scale=2)
            token = gr.Textbox(label="Access token", type="password", placeholder="hf_…", scale=2,
                               info="Used for this upload only; never saved.")
            private = gr.Checkbox(value=True, label="Private repository", scale=1)
        push_btn = gr.Button("⬆ Push", elem_id="export-push")
        push_msg = gr.Markdown(elem_id="export-push-message")

    def show(run_id, request: gr.Request = None):
        try:
            w, c, cmd = describe(ctx.runs(request), run_id)
        except Exception as err:  # noqa: BLE001 - shown as a message
            return explain(err), "", "", None, ""
        return w, c, cmd, "", ""

    def refresh_choices(current, followed, request: gr.Request = None):
        choices = ctx.run_choices(request, with_model=True)
        ids = [c[1] for c in choices]
        value = next((c for c in (current, followed) if c in ids), ids[0] if ids else None)
        return (gr.update(choices=choices, value=value), *show(value, request))

    view_outputs = [what, card, command, download, message]
    refresh.click(refresh_choices, [pick, ctx.run_id], [pick, *view_outputs], api_visibility="private")
    refresh_when_shown(ctx, "export", refresh_choices, [pick, ctx.run_id], [pick, *view_outputs])
    pick.input(show, [pick], view_outputs, api_visibility="private")

    def serve_this_too(run_id, chosen, request: gr.Request = None):
        """The run picked to export is the one to serve, until the person picks runs to serve themselves."""
        if chosen or not run_id:
            return gr.skip()
        ids = [c[1] for c in ctx.run_choices(request, chats=True, with_model=True)]  # this person's chat runs only
        return [run_id] if run_id in ids else gr.skip()

    if serve:
        pick.change(serve_this_too, [pick, serve["serve_runs"]], serve["serve_runs"], api_visibility="private")

    def do_export(run_id, m, progress=gr.Progress(), request: gr.Request = None):
        try:
            res = export(ctx.runs(request), run_id, m, progress=lambda fraction, text: progress(fraction, desc=text))
        except Exception as err:  # noqa: BLE001 - shown as a message
            return explain(err), gr.skip(), gr.skip(), gr.skip()
        what_kind = {"adapter": "LoRA adapter", "merged": "merged full model", "full": "full model"}[res["kind"]]
        card_text = card_markdown((Path(res["out_dir"]) / "README.md").read_text(encoding="utf-8"))
        out_dir = Path(res["out_dir"])
        text = ok_md(f"Exported the {what_kind} to `{esc(out_dir.name)}/` in the run's folder ({len(res['files'])} files); "
                     "the zip is below.")
        load_with = res["load_with"].replace(str(out_dir), out_dir.name)  # where the person unzips it
        return text, links_html(run_id, out_dir.parent, [res["zip"]]), load_with, card_text

    go.click(do_export, [pick, merge], [message, download, load_code, card], api_name="export",
             concurrency_limit=1, concurrency_id="models")

    def do_push(run_id, m, repo_id, tok, priv, progress=gr.Progress(), request: gr.Request = None):
        try:
            url = push(ctx.runs(request), run_id, m, repo_id, tok, priv, progress=lambda fraction, text: progress(fraction, desc=text))
        except Exception as err:  # noqa: BLE001 - shown as a message; the token is not part of it
            return explain(err), ""
        return ok_md(f"Pushed to [{esc(url)}]({esc(url)})."), ""

    push_btn.click(do_push, [pick, merge, repo, token, private], [push_msg, token], api_visibility="private")
    return {"pick": pick, "merge": merge, "go": go, "download": download, "card": card, "command": command,
            "message": message, "repo": repo, "token": token, "push": push_btn, "push_message": push_msg, **gguf, **serve}


def _initial_choices(ctx) -> list[tuple[str, str]]:
    """The runs with a model when the page is built (refreshed on load, on tab select and by ↻); none on a shared
    studio, where the page is the same for everyone until they sign in."""
    try:
        return ctx.run_choices(None, with_model=True)
    except Exception:  # noqa: BLE001 - an unreadable runs folder must not stop the app from building
        return []

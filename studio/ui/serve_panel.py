"""The Export tab's Serve panel: a switch that serves the person's chosen runs through the studio's own
OpenAI-compatible endpoint (``/v1`` on this server, ``studio.ui.serving``) with the backend they choose
(transformers, llama.cpp from the run's GGUF export, or auto; ``studio.serve.backends``), the address, a Python
snippet and a curl line, and (where keys are needed) the person's API keys: made here and shown once, listed, revoked."""

from __future__ import annotations

import time

import gradio as gr

from studio.serve import llamacpp
from studio.ui.common import esc, explain, ok_md, refresh_when_shown
from studio.ui.serving import KEY_ENV, PREFIX, curl, snippet

INTRO = """#### Serve it: an OpenAI-compatible API
Switch **Serve** on and the runs you pick answer OpenAI API requests (`/v1/chat/completions`, `/v1/completions`,
`/v1/models`) at this studio's own address, with any OpenAI client. Each run's model id is its run id."""

BACKENDS = (("transformers", "transformers"), ("llama.cpp (the run's GGUF export)", "llamacpp"), ("auto", "auto"))


def backend_help() -> str:
    extra = "" if llamacpp.installed() else " It is not installed on this studio."
    return f"""- **transformers**: serves each run as trained, and `RUN:base` (its base model) too; requests that arrive
  together are answered in one batch. Best with a GPU.
- **llama.cpp**: serves the run's GGUF export (make it in the GGUF section above); much faster on a CPU. The export is
  the merged model only, so there is no `RUN:base`. Needs the optional extra `pip install 'finetune-studio[gguf]'`.{extra}
- **auto**: llama.cpp where there is no GPU, it is installed and every run has a GGUF export; transformers otherwise.

A new choice takes effect the next time you switch **Serve** on."""


def owner_of(ctx, request) -> str:
    """The signed-in person's account id ("" on a single-user studio); raises when sign-in is missing."""
    ctx.runs(request)
    return ctx.access.identity(request).id or ""


def base_url(request) -> str:
    inner = getattr(request, "request", None) or request
    try:
        root = str(inner.base_url).rstrip("/")
    except Exception:  # noqa: BLE001 - a request without an address (in-process calls)
        root = "http://127.0.0.1:7860"
    return root + PREFIX


def switch(ctx, on: bool, run_ids: list[str] | None, request, backend: str | None = None) -> tuple[str, str, str]:
    """Serve (or stop serving) the person's runs with ``backend`` (transformers, llamacpp or auto); (status
    markdown, Python snippet, curl line)."""
    from studio.core.errors import StudioError

    runs = ctx.runs(request)
    owner = owner_of(ctx, request)
    serving = ctx.serving
    if not on:
        serving.forget(owner)
        stopped = serving.hub.stop(owner)
        return ("Not serving." + (" Stopped; the models are unloaded." if stopped else "")), "", ""
    serving.policy.check_serve()
    if not run_ids:
        raise StudioError("pick one or more runs to serve first (finished or stopped chat runs with a model)")
    folders = [str(runs.folder(r).path) for r in run_ids]  # another person's run reads as "no such run"
    started = time.time()
    try:
        served = serving.hub.start(owner, folders, backend or "transformers")
    except StudioError as err:  # a run is named by its id on the page, never by where the server keeps it
        raise StudioError(_ids_for_paths(str(err), folders, run_ids)) from err
    serving.remember(owner, list(run_ids), backend or "transformers")
    return shown(ctx, owner, served, folders, run_ids, request, f"loaded in {time.time() - started:.1f} s")


def shown(ctx, owner: str, served: dict, folders: list[str], run_ids: list[str], request, how: str):
    """(status markdown, Python snippet, curl line) for what ``owner`` serves."""
    serving = ctx.serving
    url = base_url(request)
    first = next(iter(served))
    needs_key = serving.needs_keys
    said = serving.hub.said(owner) or [""]
    warnings = [_ids_for_paths(x, folders, run_ids) for x in said[1:] if ": warning: " in x]
    lines = [ok_md(f"Serving {', '.join(f'`{esc(m)}`' for m in served)} at `{esc(url)}` ({how})."),
             f"<small>{esc(_ids_for_paths(said[0], folders, run_ids))}</small>" if said[0] else "",
             *(f"⚠ {esc(w)}" for w in warnings)]
    if needs_key:
        lines.append(f"Requests need one of your API keys (below): set `{KEY_ENV}` to it before running the snippet.")
    return "\n\n".join(x for x in lines if x), snippet(url, first, needs_key), curl(url, first, needs_key)


def current(ctx, request):
    """What the panel shows when the page opens: the person's runs to pick from, and what they serve now (served
    again after a restart if they served it before): (runs dropdown, switch, status, snippet, curl, backend)."""
    choices = ctx.run_choices(request, chats=True, with_model=True)
    try:
        owner = owner_of(ctx, request)
        served = ctx.serving.models(owner)
    except Exception:  # noqa: BLE001 - not signed in yet: nothing served
        served = {}
    run_ids = list(dict.fromkeys(s.run for s in served.values()))
    try:
        runs = ctx.runs(request)
        folders = [str(runs.folder(r).path) for r in run_ids]  # a run handed to someone else since: shown as off
        status, py, sh = shown(ctx, owner, served, folders, run_ids, request, "switched on earlier")
    except Exception:  # noqa: BLE001
        served = {}
    if not served:
        return (gr.update(choices=choices),) + (gr.skip(),) * 5
    entry = ctx.serving.remembered(owner) or {}
    return (gr.update(choices=choices, value=run_ids), True, status, py, sh) + \
        ((gr.update(value=entry["backend"]),) if entry.get("backend") in [v for _, v in BACKENDS] else (gr.skip(),))


def _ids_for_paths(text: str, folders: list[str], run_ids: list[str]) -> str:
    for folder, run_id in zip(folders, run_ids):
        text = text.replace(folder, run_id)
    return text


def keys_markdown(ctx, owner: str) -> str:
    keys = ctx.serving.keys.keys(owner)
    if not keys:
        return "No API keys yet."
    rows = "\n".join(f"| `{esc(k.id)}` | {esc(k.name)} | {time.strftime('%Y-%m-%d %H:%M', time.localtime(k.created))} |"
                     for k in keys)
    return "| key id | name | made |\n|---|---|---|\n" + rows


def build(ctx) -> dict:
    serving = ctx.serving
    with gr.Accordion("Serve it (OpenAI-compatible API)", open=False):
        gr.Markdown(INTRO)
        with gr.Row():
            runs = gr.Dropdown(choices=[], value=[], multiselect=True, label="Runs to serve", scale=4,
                               allow_custom_value=True,
                               elem_id="serve-runs")
            on = gr.Checkbox(value=False, label="Serve", scale=1, elem_id="serve-switch")
        backend = gr.Radio(choices=list(BACKENDS), value="transformers", label="Backend", elem_id="serve-backend")
        gr.Markdown(backend_help(), elem_id="serve-backend-help")
        status = gr.Markdown(elem_id="serve-status")
        code = gr.Code(label="Python (openai client, streaming)", language="python", interactive=False,
                       elem_id="serve-snippet")
        line = gr.Code(label="curl", language="shell", interactive=False, elem_id="serve-curl")
        with gr.Group(visible=serving.needs_keys):
            gr.Markdown("**Your API keys.** A key reaches only your runs. The whole key is shown once, when made; "
                        "keep it somewhere safe. Revoke a key you no longer use.")
            with gr.Row():
                key_name = gr.Textbox(label="Name for a new key", placeholder="laptop", scale=3)
                make = gr.Button("Make a key", scale=1, elem_id="serve-make-key")
            new_key = gr.Textbox(label="New key (shown once)", interactive=False, elem_id="serve-new-key")
            keys = gr.Markdown(elem_id="serve-keys")
            with gr.Row():
                revoke_id = gr.Textbox(label="Key id to revoke", scale=3)
                revoke = gr.Button("Revoke", variant="stop", scale=1, elem_id="serve-revoke")
            key_msg = gr.Markdown()

    def flip(value, run_ids, chosen, request: gr.Request = None):
        try:
            text, py, sh = switch(ctx, bool(value), run_ids, request, chosen)
        except Exception as err:  # noqa: BLE001 - shown as a message
            return explain(err), "", "", False if value else gr.skip()
        return text, py, sh, gr.skip()

    on.input(flip, [on, runs, backend], [status, code, line, on], api_name="serve_switch", concurrency_limit=1,
             concurrency_id="models")

    def choices(request: gr.Request = None):
        return current(ctx, request)

    def make_key(name, request: gr.Request = None):
        try:
            owner = owner_of(ctx, request)
            _info, whole = serving.keys.make(owner, name)
        except Exception as err:  # noqa: BLE001
            return "", explain(err), gr.skip()
        return whole, ok_md("Made a key; copy it now, it is not shown again."), keys_markdown(ctx, owner)

    def revoke_key(key_id, request: gr.Request = None):
        try:
            owner = owner_of(ctx, request)
            serving.keys.revoke(owner, (key_id or "").strip())
        except Exception as err:  # noqa: BLE001
            return explain(err), gr.skip()
        return ok_md(f"Revoked `{esc(key_id)}`: it no longer works."), keys_markdown(ctx, owner)

    def list_keys(request: gr.Request = None):
        try:
            return keys_markdown(ctx, owner_of(ctx, request))
        except Exception:  # noqa: BLE001 - not signed in yet: nothing to list
            return ""

    make.click(make_key, [key_name], [new_key, key_msg, keys], api_name="serve_make_key")
    revoke.click(revoke_key, [revoke_id], [key_msg, keys], api_name="serve_revoke_key")
    refresh_when_shown(ctx, "export", choices, [], [runs, on, status, code, line, backend])
    if hasattr(ctx, "on_load"):
        ctx.on_load.append((list_keys, [], [keys]))
    return {"serve_runs": runs, "serve_switch": on, "serve_backend": backend, "serve_status": status, "serve_snippet": code, "serve_curl": line,
            "serve_new_key": new_key, "serve_keys": keys}

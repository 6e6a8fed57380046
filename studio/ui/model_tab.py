"""Model tab: where the base model comes from, what it is, and what training it will cost."""

from __future__ import annotations

import gradio as gr

from studio.core import estimate as est
from studio import tasks
from studio.core.config import METHODS, StudioConfig
from studio.core.models import EMBEDDED
from studio.ui import help as texts
from studio.ui import served
from studio.ui.common import esc, explain, ok_md
from studio.ui.widgets import knob_spec, widget

EMBEDDED_SRC = "Embedded (offline)"
HUB_SRC = "Hugging Face Hub id"
LOCAL_SRC = "Local folder or .gguf file"
SOURCES = (EMBEDDED_SRC, HUB_SRC, LOCAL_SRC)


def source_of(where: str, embedded: str, hub: str, local: str) -> str:
    if where == HUB_SRC:
        return (hub or "").strip()
    if where == LOCAL_SRC:
        return (local or "").strip()
    return embedded or "smollm2"


def suited_task(info: dict):
    """The task this model is meant for (``studio.tasks.for_model``)."""
    from studio import tasks

    return tasks.for_model(info)


def facts_md(info: dict) -> str:
    params = info.get("parameters") or 0
    size = f"{params / 1e9:.2f} B" if params >= 1e9 else f"{params / 1e6:.1f} M"
    template = {True: "✓ yes (chat data is rendered with it)", False: "— none: a simple Question/Answer format is used",
                None: "? (tokenizer not found)"}[info.get("chat_template")]
    rows = [
        ("Model", esc(info.get("title") or info.get("source"))),
        ("Architecture", f"{esc(info.get('architecture'))} ({esc(info.get('model_type'))})"),
        ("Parameters", size),
        ("Layers × hidden size", f"{info.get('layers')} × {info.get('hidden_size')}"),
        ("Vocabulary", f"{info.get('vocab_size'):,}" if info.get("vocab_size") else "?"),
        ("Longest input", f"{info.get('max_positions'):,} tokens" if info.get("max_positions") else "?"),
        ("Chat template", template if not info.get("encoder_decoder") else
         "— not used: an encoder-decoder model reads the prompt as plain text"),
        ("Suited to", esc(suited_task(info).purpose)),
    ]
    return "| Model facts | |\n|---|---|\n" + "\n".join(f"| **{k}** | {v} |" for k, v in rows)


def estimate_md(info: dict, method: str, data: dict | None = None, device: est.Device | None = None) -> str:
    """A table of all three methods for this model, the chosen one in bold, with its breakdown."""
    if not info:
        return ""
    shape = est.ModelShape.from_describe(info)
    device = device or est.detect_device()
    seq = int((data or {}).get("avg_tokens") or 128)
    lines = [f"**Memory and time on {esc(device.name)}** ({est.fmt_bytes(device.available_bytes)} free now)\n",
             "| Method | Memory | Fits? | Per step | Trains |", "|---|---|---|---|---|"]
    chosen = None
    for m in METHODS:
        e = est.estimate(shape, m, batch_size=8, seq_len=seq, steps=100, device=device)
        if m == method:
            chosen = e
        fit = {"yes": "✓ yes", "tight": "⚠ tight", "no": "✗ no"}[e.fits]
        name = f"**{m}** ◀" if m == method else m
        lines.append(f"| {name} | {est.fmt_bytes(e.total_bytes)} | {fit} | {est.fmt_seconds(e.step_seconds)} | "
                     f"{e.trainable_parameters / 1e6:.1f} M weights |")
    out = "\n".join(lines)
    if chosen is not None:
        parts = " + ".join(f"{k.lower()} {v}" for k, v in chosen.rows()[:5])
        out += f"\n\n*{esc(method)}:* {parts}. *Precision:* {esc(chosen.precision_reason or chosen.precision)}."
        for w in chosen.warnings:
            out += f"\n\n⚠ {esc(w)}"
    return out + f"\n\n<small>{texts.METHOD_TABLE_NOTE}</small>"


def build(ctx):
    gr.Markdown(texts.MODEL)
    with gr.Row():
        with gr.Column(scale=1):
            where = gr.Radio(list(SOURCES), value=EMBEDDED_SRC, label="Where is the model?")
            embedded = gr.Dropdown([(v["title"], k) for k, v in EMBEDDED.items()], value="smollm2", label="Embedded model",
                                   info="Ships with the studio; works offline.")
            hub = gr.Textbox(label="Hub id", placeholder="HuggingFaceTB/SmolLM2-360M-Instruct", visible=False,
                             info="Downloaded from the Hugging Face Hub (needs internet).")
            local = gr.Textbox(label="Folder or .gguf file", placeholder="/models/my-model or /models/model.Q4_K_M.gguf",
                               visible=False, info="A folder with config.json, or one .gguf file.")
            use = gr.Button("Use this model", variant="primary")
            locked_method = ctx.access.policy.locked.get("method")
            method = widget(knob_spec(StudioConfig, "method"), value=locked_method or "lora", elem_id="model-method",
                            **({"interactive": False} if locked_method else {}))
        with gr.Column(scale=1):
            message = gr.Markdown(elem_id="model-message")
            facts = gr.Markdown(elem_id="model-facts")
    estimate_box = gr.Markdown(elem_id="model-estimate")

    def show_source(w):
        return gr.update(visible=w == EMBEDDED_SRC), gr.update(visible=w == HUB_SRC), gr.update(visible=w == LOCAL_SRC)

    where.change(show_source, where, [embedded, hub, local], api_visibility="private", show_progress="hidden")

    fixed = ctx.access.policy.locked.get("model.source")
    if fixed:  # the instructor fixed the model: no choosing here
        for box in (where, embedded, hub, local, use):
            box.interactive = False

    def choose(w, emb, hub_id, path, m, data, request: gr.Request = None):
        source = str(fixed) if fixed else source_of(w, emb, hub_id, path)
        try:
            runs = ctx.runs(request)
            source = runs.check_model(source)
            if runs.shared and ("/" in source or "\\" in source):  # a file in Gradio's cache: the caller's only
                served.check_file(ctx, runs, source, "model")
            info = ctx.infos.get(source)
        except Exception as err:  # noqa: BLE001 - shown as a message
            return explain(err), "", "", gr.skip(), gr.skip()
        note = ok_md(f"Using **{esc(source)}**{' (fixed by the instructor)' if fixed else ''}.")
        task = suited_task(info)
        if task.name != tasks.names()[0]:  # not the default task: say which one it is for
            note += f" It is meant for the *{esc(task.name)}* task: {esc(task.help)}."
        return note, facts_md(info), estimate_md(info, m, data), source, info

    use.click(choose, [where, embedded, hub, local, method, ctx.data],
              [message, facts, estimate_box, ctx.model_source, ctx.model_info], api_name="describe_model")

    def re_estimate(info, m, data):
        try:
            return estimate_md(info, m, data)
        except Exception as err:  # noqa: BLE001
            return explain(err)

    gr.on([method.change, ctx.data.change], re_estimate, [ctx.model_info, method, ctx.data], estimate_box,
          api_name="model_estimate", show_progress="hidden")

    # The page opens with the default model described, so the first look is not an empty tab.
    ctx.on_load.append((choose, [where, embedded, hub, local, method, ctx.data],
                        [message, facts, estimate_box, ctx.model_source, ctx.model_info]))
    return {"method": method, "message": message, "embedded": embedded, "where": where}

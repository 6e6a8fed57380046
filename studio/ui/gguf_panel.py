"""The Export tab's GGUF panel: the run as a GGUF file for llama.cpp, Ollama and LM Studio, with an Ollama
Modelfile, each file's size, and the check that ran the file on held-out prompts next to the tuned model.
The work is done by ``studio.export.gguf``; this module only shows it."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from studio.ui.common import esc, explain, ok_md
from studio.ui.served import links_html

INTRO = """#### Run it in llama.cpp, Ollama or LM Studio (GGUF)
The LoRA merged into the base and converted with llama.cpp's own converter, with the chat template and stop
tokens, an Ollama **Modelfile**, and a check: the file answers the held-out prompts next to the tuned model.
`q8_0` (half the size of `f16`, nearly the same replies) and `f16` need nothing more; `q4_k_m` (smallest)
needs llama.cpp from the optional extra (`pip install 'finetune-studio[gguf]'`), which also runs the check in llama.cpp."""

QUANT_CHOICES = (("q8_0: 8-bit, recommended", "q8_0"), ("f16: 16-bit, largest", "f16"),
                 ("q4_k_m: 4-bit, smallest (needs the extra)", "q4_k_m"))


def gguf_dir(run_path: str | Path) -> Path:
    """Where the panel writes a run's GGUF export (inside the run folder, replaced on each export)."""
    return Path(run_path) / "export-gguf"


def export(runs, run_id: str | None, quant: str, adapter: bool, check: bool, progress=None, chats=None) -> dict:
    """Export a run as GGUF; ``runs``: the runs as the person asking sees them (``ctx.runs(request)``); ``chats``:
    the app's ChatCache, whose loaded models the check reuses."""
    from studio.core.errors import StudioError
    from studio.export.gguf import export_gguf

    if not run_id:
        raise StudioError("pick a run first")
    folder = runs.folder(run_id)
    return export_gguf(folder.path, gguf_dir(folder.path), quant=quant or "q8_0", adapter=bool(adapter),
                       check=bool(check), overwrite=True, progress=progress,
                       chat=(lambda: chats.get(runs, run_id=run_id)) if chats is not None and check else None)


def files_markdown(result: dict) -> str:
    lines = ["| File | Size |", "|---|---|"]
    lines += [f"| `{esc(name)}` | {_size(size)} |" for name, size in result["files"]]
    timings = result.get("timings") or {}
    if timings:
        lines += ["", "Time: " + ", ".join(f"{k[:-2]} {v} s" for k, v in timings.items())]
    return "\n".join(lines)


def check_markdown(check: dict | None) -> str:
    """The check as a verdict per loader and the replies side by side."""
    if not check:
        return "Not checked (no held-out prompts, or the check was switched off)."
    loaders = list(check["summary"])
    lines = [f"**Checked by running it** ({len(check['rows'])} held-out prompts, greedy, up to "
             f"{check['max_new_tokens']} tokens; ✓ = the first {check['first_tokens']} tokens match the tuned model):", ""]
    for name, s in check["summary"].items():
        lines.append(f"- **{esc(name)}**: first tokens match on {s['first_match']}/{s['prompts']}, whole reply on "
                     f"{s['identical']}/{s['prompts']}")
    speed = check.get("tokens_per_s") or {}
    if speed:
        lines.append("- tokens/s: " + ", ".join(f"{esc(k)} {v}" for k, v in speed.items()))
    lines += [f"- ⚠ {esc(n)}" for n in check["notes"]] + [""]
    lines.append("| Prompt | Tuned model (studio) | " + " | ".join(esc(n) for n in loaders) + " |")
    lines.append("|---" * (2 + len(loaders)) + "|")
    for row in check["rows"]:
        cells = [_cell(row["prompt"]), _cell(row["tuned"])]
        for name in loaders:
            mark = "✓" if row.get(f"{name}_first_match") else "✗"
            cells.append(f"{mark} {_cell(row.get(name, ''))}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return esc(text).replace("|", "\\|").replace("\n", " ")


def build(ctx, pick):
    with gr.Accordion("GGUF for llama.cpp, Ollama and LM Studio", open=False, elem_id="gguf-panel"):
        gr.Markdown(INTRO)
        with gr.Row():
            quant = gr.Dropdown(choices=list(QUANT_CHOICES), value="q8_0", label="Weights", scale=2, elem_id="gguf-quant")
            adapter = gr.Checkbox(value=False, label="Also the LoRA alone (GGUF adapter)", scale=1)
            check = gr.Checkbox(value=True, label="Check by running it", scale=1,
                                info="Held-out prompts in llama.cpp and transformers next to the tuned model.")
            go = gr.Button("⬇ Export as GGUF", variant="primary", scale=1, elem_id="gguf-go")
        message = gr.Markdown(elem_id="gguf-message")
        files = gr.Markdown(elem_id="gguf-files")
        download = gr.HTML(label="Download", elem_id="gguf-download")
        modelfile = gr.Code(label="Modelfile (Ollama)", interactive=False, elem_id="gguf-modelfile")
        checked = gr.Markdown(elem_id="gguf-check")

    def do_export(run_id, q, a, c, progress=gr.Progress(), request: gr.Request = None):
        try:
            res = export(ctx.runs(request), run_id, q, a, c, progress=lambda fraction, text: progress(fraction, desc=text),
                         chats=getattr(ctx, "chats", None))
        except Exception as err:  # noqa: BLE001 - shown as a message
            return explain(err), "", "", "", ""
        out_dir = Path(res["out_dir"])
        paths = [res["gguf"]] + ([res["adapter_gguf"]] if res["adapter_gguf"] else [])
        paths += [str(out_dir / "Modelfile")]
        text = ok_md(f"Exported `{esc(Path(res['gguf']).name)}` ({esc(res['quant'])}) to `{esc(out_dir.name)}/` in the "
                     "run's folder.")
        return text, files_markdown(res), links_html(run_id, out_dir.parent, paths), res["modelfile"], \
            check_markdown(res["check"])

    go.click(do_export, [pick, quant, adapter, check], [message, files, download, modelfile, checked],
             api_name="export_gguf", concurrency_limit=1, concurrency_id="models")
    return {"gguf_quant": quant, "gguf_adapter": adapter, "gguf_check": check, "gguf_go": go,
            "gguf_message": message, "gguf_files": files, "gguf_download": download, "gguf_modelfile": modelfile,
            "gguf_checked": checked}


def _size(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size >= 1e5 else f"{size / 1e3:,.1f} kB"

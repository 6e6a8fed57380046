"""Data tab: load a file or a sample, see its format and health, fix it, and see what training learns from."""

from __future__ import annotations

import re
import shutil
import statistics
import time
from pathlib import Path
from types import MappingProxyType

import gradio as gr

from studio import tasks
from studio.data import FORMATS, apply_fixes, check_dataset, load_dataset
from studio.data.formats import FIELDS
from studio.data.preview import sample_table
from studio.ui import data_fill, data_images, served
from studio.ui import help as texts
from studio.ui.charts import empty_figure
from studio.ui.common import error_md, esc, explain, ok_md
from studio.ui.data_view import label_chart, length_histogram, token_mask_html

N_COLUMN_BOXES = 4
SEVERITY_ICONS = MappingProxyType({"error": "✗ error", "warning": "⚠ warning", "info": "ℹ info"})
FIX_LABELS = MappingProxyType({
    "drop_duplicates": "Drop exact duplicates", "drop_near_duplicates": "Drop near-duplicates",
    "drop_empty": "Drop empty records and ones with no answer", "drop_malformed": "Leave out unreadable rows (recorded)",
    "merge_label_variants": "Merge label spellings", "strip_markup": "Strip HTML/Markdown markup",
    "drop_leaked": "Drop records leaked into the eval data", "drop_identical_pairs": "Drop pairs with identical answers",
    "repair_text": "Repair garbled text (ftfy)",
})
EXAMPLES_SHOWN = 3


def samples_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "assets" / "datasets"


SAMPLE_NOTES = (  # what each shipped sample teaches, so a first-time user knows which to pick
    ("pirate_style.jsonl", "chat: answers in a pirate voice, the quickest to see learning"),
    ("support_chat.jsonl", "chat: a support assistant's conversations"),
    ("instructions.jsonl", "chat: instructions with inputs (Alpaca)"),
    ("sentiment.csv", "classification: reviews labelled positive or negative"),
    ("friendly_preferences.jsonl", "preference (DPO): friendly answers chosen over rude ones"),
    ("summary_preferences.jsonl", "preference (DPO): answers that end with a short summary line"),
    ("summary_preferences_unseen.jsonl", "held-out pairs to evaluate the summary run"),
    ("arithmetic_prompts.jsonl", "grpo: arithmetic questions with their answers"),
    ("facts_prompts.jsonl", "grpo: fact questions with their answers"),
    ("facts_prompts_unseen.jsonl", "held-out questions to evaluate the facts run"),
)


def sample_choices() -> list[tuple[str, str]]:
    """The dropdown's (label, value): the file name with what it teaches; the value stays the bare name."""
    notes = dict(SAMPLE_NOTES)
    return [(f"{name} · {notes[name]}" if name in notes else name, name) for name, _ in samples()]


def samples() -> list[tuple[str, str]]:
    """The shipped samples as (file name, path on the server); the page offers them by name only."""
    folder = samples_dir()
    if not folder.is_dir():
        return []
    return [(p.name, str(p)) for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")]


def safe_name(name: str) -> str:
    """An uploaded file's name, kept readable but unable to leave its folder or hide (no '/', '..', leading dot)."""
    name = re.sub(r"[^\w.\- ]+", "_", Path(str(name)).name).strip(" .") or "upload"
    return name[:120]


def still_md(current: dict | None) -> str:
    """After a failed upload: which file is still the training data."""
    name = (current or {}).get("name")
    if name:
        return f"\n\nThe training data is still **{esc(name)}**."
    return "\n\nNo training data is loaded yet: pick a sample or upload another file."


def fields_for(fmt: str) -> list[str]:
    required, optional = FIELDS.get(fmt, ((), ()))
    return list(required + optional)[:N_COLUMN_BOXES]


def task_for(fmt: str) -> str:
    """The task that trains on data of this format (the Train tab's choice follows it)."""
    return tasks.for_format(fmt).name


def content_text(content) -> str:
    """A message's content as text (parts joined, images as <image>)."""
    if isinstance(content, list):
        return " ".join("<image>" if isinstance(p, dict) and p.get("type") == "image" else
                        str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def record_text(rec: dict, limit: int = 240) -> str:
    if "messages" in rec:
        text = " ⏎ ".join(f"{m['role']}: {content_text(m['content'])}" for m in rec["messages"])
        if "chosen" in rec:
            text += f" ⏎ chosen: {rec['chosen']} ⏎ rejected: {rec['rejected']}"
    else:
        text = rec.get("text", "")
        if "label" in rec:
            text = f"[{rec['label']}] {text}"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def report_md(report: dict) -> str:
    findings = report.get("findings") or []
    if not findings:
        return f"✓ **No problems found** in {report.get('rows', 0)} records."
    rows = ["| Severity | Check | Records | What it means, and the fix |", "|---|---|---|---|"]
    for f in findings:
        msg = esc(f["message"]).replace("|", "\\|").replace("\n", " ")
        rows.append(f"| {SEVERITY_ICONS.get(f['severity'], f['severity'])} | `{f['check']}` | {f['count']} | {msg} |")
    return "\n".join(rows)


def flagged_md(report: dict, ds) -> str:
    """The first few flagged records of each finding, as text, with their line."""
    by_line = {line: i for i, line in enumerate(ds.lines)}
    what = "line" if ds.line_based else "record"
    parts = []
    for f in report.get("findings") or []:
        shown = [n for n in f.get("records", []) if n in by_line][:EXAMPLES_SHOWN]
        if not shown:
            continue
        items = "\n".join(f"- {what} {n}: `{esc(record_text(ds.records[by_line[n]])).replace('`', '')}`" for n in shown)
        parts.append(f"**{f['check']}** ({f['count']}):\n{items}")
    return "\n\n".join(parts) if parts else ""


def summary_md(ds, path: str) -> str:
    cols = ", ".join(f"{k} ← `{esc(v)}`" for k, v in ds.columns.items()) or "—"
    n, bad = len(ds.records) + len(ds.malformed), len(ds.malformed)
    counts = f"{n} records: {len(ds.records)} usable, {bad} could not be read" if bad else f"{n} records"
    text = (f"**{esc(Path(path).name)}**: {counts}, format **{esc(ds.format)}** "
            f"(columns: {cols}); encoding {esc(ds.encoding)}.")
    if ds.malformed:
        unit = "line" if ds.line_based else "record"
        first = "; ".join(f"{unit} {n}: {esc(why)}" for n, why in ds.malformed[:3])
        text += f"\n\n⚠ {bad} row{'s' if bad != 1 else ''} could not be read and {'are' if bad != 1 else 'is'} left out ({first})."
    return text


def fix_choices(report: dict) -> list[tuple[str, str]]:
    out = []
    for f in report.get("findings") or []:
        if f.get("fix") and f["fix"] not in ("drop_leaked", "fill_placeholders"):  # placeholders: the form below
            out.append((f"{FIX_LABELS.get(f['fix'], f['fix'])} ({f['count']})", f["fix"]))
    return list(dict.fromkeys(out))


def analyse(ctx, path: str, fmt: str, columns: dict | None, model_source: str, max_length: int, runs=None) -> dict:
    """Load, check and measure a data file; everything the tab shows about it. Data with images (a zip, records
    with image parts, a task's image format) is read by the reader of the task that trains on it."""
    reader = tasks.data_reader(path, fmt or "auto")
    if reader is not None:
        return data_images.analyse(ctx, reader, path, model_source, max_length, runs)
    ds = load_dataset(path, format=fmt or "auto", columns=columns or None)
    if any(rec.get("media") for rec in ds.records):
        reader = tasks.data_reader(path, "auto", media=True)
        if reader is not None:
            return data_images.analyse(ctx, reader, path, model_source, max_length, runs)
    tok = None
    try:
        tok = ctx.infos.tokenizer(model_source or "smollm2")
    except Exception:  # noqa: BLE001 - the report still works without token lengths
        pass
    report = check_dataset(ds, None, tokenizer=tok, max_length=int(max_length or 512))
    lengths = list(report.lengths or [])
    return {"ds": ds, "report": report.to_dict(), "lengths": lengths, "sampled": report.length_sampled,
            "labels": report.labels, "path": str(path), "model": model_source}


def figures(loaded: dict, max_length: int):
    lengths = loaded.get("lengths") or []
    none = ("No token lengths: pick a vision model (Model tab) to count image and text tokens." if loaded.get("images")
            else "No token lengths (tokenizer unavailable).")
    hist = length_histogram(lengths, int(max_length or 0) or None) if lengths else empty_figure(none)
    labels = loaded.get("labels")
    lab = label_chart(labels) if labels else empty_figure("Labels appear here for classification data.")
    return hist, lab


def preview_html(ctx, loaded: dict, index: int, max_length: int, train_on_prompt: bool = False) -> str:
    ds = loaded.get("ds")
    if ds is None or not ds.records:
        return ""
    reader = tasks.data_reader(loaded.get("path", ""), ds.format) if loaded.get("images") else None
    if reader is not None:
        return data_images.preview_html(reader, loaded, index, max_length, train_on_prompt)
    i = max(0, min(int(index or 1) - 1, len(ds.records) - 1))
    rec = ds.records[i]
    source = loaded.get("model") or "smollm2"
    task = tasks.for_data_and_model(ds.format, ctx.infos.get(source))  # a T5 model: shown as seq2seq trains it
    tok = ctx.infos.tokenizer(source)
    pieces = task.trained_pieces(tok, rec, int(max_length), train_on_prompt=train_on_prompt)
    if pieces is None:  # no tokens marked (e.g. a classifier): what the task says of it, and the record as read
        return (f'<div>{esc(task.preview_note)}</div>'
                f'<pre style="white-space:pre-wrap">{esc(rec.get("text", ""))}</pre>'
                + (f'<div>label: <b>{esc(rec["label"])}</b></div>' if "label" in rec else ""))
    lengths = loaded.get("lengths") or []
    truncated = bool(lengths) and not loaded.get("sampled") and i < len(lengths) and lengths[i] > int(max_length)
    return token_mask_html(pieces, truncated=truncated)


def data_state(loaded: dict) -> dict:
    ds = loaded["ds"]
    lengths = loaded.get("lengths") or []
    return {"path": loaded["path"], "name": Path(loaded["path"]).name, "format": ds.format, "columns": dict(ds.columns),
            "records": len(ds.records), "task": task_for(ds.format),
            "avg_tokens": round(statistics.mean(lengths), 1) if lengths else 0.0}


def build(ctx):
    gr.Markdown(texts.DATA)
    with gr.Row():
        with gr.Column(scale=1):
            sample = gr.Dropdown(sample_choices(), value=None, label="A shipped sample", elem_id="data-sample",
                                 info="Small datasets to try the studio with.")
            limit = ctx.access.policy.upload_limit_mb(ctx.access.shared)  # Gradio refuses bigger ones too
            upload = gr.File(label="…or upload your own file" + (f" (up to {limit:g} MB)" if limit else ""),
                             file_types=[".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".parquet", ".pq", ".txt", ".zip"],
                             type="filepath", elem_id="data-upload", height=120)
        with gr.Column(scale=1):
            fmt = gr.Dropdown(["auto", *FORMATS], value="auto", label="Format",
                              info="Detected from the columns; change it if the guess is wrong, then Reload.")
            with gr.Row():
                boxes = [gr.Textbox(label=f"column {i + 1}", visible=False, min_width=120) for i in range(N_COLUMN_BOXES)]
            reload = gr.Button("Reload with this format and these columns")
    message = gr.Markdown(elem_id="data-message")
    summary = gr.Markdown(elem_id="data-summary")
    with gr.Accordion("The first records, as the studio reads them", open=False):
        first_rows = gr.Dataframe(value=None, interactive=False, wrap=True, elem_id="data-first-rows", max_height=400)
    gr.Markdown("#### Health report")
    report_box = gr.Markdown("Load a file to see its health report.", elem_id="data-report")
    with gr.Accordion("Flagged records", open=True, visible=False) as flagged_box:
        flagged = gr.Markdown(elem_id="data-flagged")
    with gr.Row():
        fixes = gr.CheckboxGroup(choices=[], label="One-click fixes (a new version of the file; the original is kept)",
                                 scale=3, elem_id="data-fixes")
        fix_btn = gr.Button("Apply fixes", scale=1, elem_id="data-apply-fixes")
    fill_form = data_fill.build()
    with gr.Row():
        hist = gr.Plot(label="Length", elem_id="data-lengths")
        labels = gr.Plot(label="Labels", elem_id="data-labels", visible=False)
    gr.Markdown(f"#### What the model learns from\n{texts.TRAINED_TOKENS}")
    example = gr.Slider(1, 2, value=1, step=1, label="Example #", elem_id="data-example")
    preview = gr.HTML(elem_id="data-preview")
    fields_state = gr.State([])
    loaded_state = gr.State({})

    outputs = [message, summary, first_rows, fmt, *boxes, fields_state, report_box, flagged_box, flagged, fixes, hist, labels, example,
               preview, ctx.data, loaded_state]

    def show(path, fmt_value, columns, model_source, max_length, note="", runs=None):
        try:
            loaded = analyse(ctx, path, fmt_value, columns, model_source, max_length, runs)
        except Exception as err:  # noqa: BLE001 - shown as a message; the file by the name the person knows
            text = explain(err).replace(str(path), Path(path).name)
            text = data_images.hide(text, Path(path).resolve().parent, runs, data_images.hides_paths(ctx, runs))
            return (text,) + (gr.skip(),) * (len(outputs) - 1)
        ds, report = loaded["ds"], loaded["report"]
        reader = tasks.data_reader(path, ds.format) if loaded.get("images") else None
        fields = [] if loaded.get("images") else fields_for(ds.format)  # image data: read whole, no columns to map
        box_updates = [gr.update(label=f, value=ds.columns.get(f, ""), visible=True) if i < len(fields)
                       else gr.update(visible=False, value="") for i, f in enumerate(fields + [""] * N_COLUMN_BOXES)][:N_COLUMN_BOXES]
        h, lab = figures(loaded, max_length)
        n = len(ds.records)
        msg = note or ok_md(f"Loaded {n} records. This file is now the training data (see the **Train** tab).")
        flagged_text = data_images.flagged_md(loaded, reader) if reader else flagged_md(report, ds)
        headers, rows = data_images.first_rows(reader, ds) if reader else sample_table(ds)
        summary = data_images.summary_md(loaded, path) if reader else summary_md(ds, path)
        return (msg, summary, gr.update(value=rows, headers=headers), gr.update(value=fmt_value or "auto"), *box_updates, fields, report_md(report),
                gr.Accordion(visible=bool(flagged_text)), flagged_text, gr.update(choices=fix_choices(report), value=[]), h,
                gr.update(value=lab, visible=bool(loaded.get("labels"))),
                gr.update(minimum=1, maximum=max(n, 2), value=1), preview_html(ctx, loaded, 1, max_length),
                data_state(loaded), loaded)

    def use_sample(name, model_source, max_length):
        if not name:
            return (gr.skip(),) * len(outputs)
        path = dict(samples()).get(str(name))  # a client may send any string: only the shipped samples, by name
        if path is None:
            return (error_md(f"no sample named '{Path(str(name)).name}'", "pick one from the list"),) + \
                (gr.skip(),) * (len(outputs) - 1)
        return show(path, "auto", None, model_source, max_length)

    sample.input(use_sample, [sample, ctx.model_source, ctx.max_length], outputs, api_name="load_sample")

    def use_upload(tmp_path, model_source, max_length, current, request: gr.Request = None):
        if not tmp_path:
            return (gr.skip(),) * len(outputs)
        src = Path(tmp_path)
        try:
            runs = ctx.runs(request)
            src = served.check_file(ctx, runs, src, "file")  # the caller's own upload, never another person's
            runs.check_upload(src)
            dest_dir = runs.data_dir / "uploads"
            dest_dir.mkdir(parents=True, exist_ok=True)
            dest = dest_dir / safe_name(src.name)
            if dest.exists():
                dest = dest_dir / f"{dest.stem}-{time.strftime('%Y%m%d-%H%M%S')}{dest.suffix}"
            shutil.copyfile(src, dest)  # kept with the runs: the upload's temp file may be cleaned up later
        except Exception as err:  # noqa: BLE001 - shown as a message
            return (explain(err) + still_md(current),) + (gr.skip(),) * (len(outputs) - 1)
        out = show(str(dest), "auto", None, model_source, max_length, runs=runs)
        if not isinstance(out[1], str):  # the file could not be read: no summary
            out = (out[0] + still_md(current),) + tuple(out[1:])
        return out

    upload.upload(use_upload, [upload, ctx.model_source, ctx.max_length, ctx.data], outputs, api_name="load_upload")

    def relabel(fmt_value, fields, *values):
        """Another format: boxes for its fields, keeping what was typed for fields that stay."""
        current = dict(zip(fields or [], values))
        new = fields_for(fmt_value) if fmt_value != "auto" else []
        ups = [gr.update(label=f, value=current.get(f, ""), visible=True) for f in new]
        ups += [gr.update(visible=False, value="")] * (N_COLUMN_BOXES - len(new))
        return (*ups, new)

    fmt.input(relabel, [fmt, fields_state, *boxes], [*boxes, fields_state], api_visibility="private", show_progress="hidden")

    def do_reload(loaded, fmt_value, fields, model_source, max_length, request: gr.Request, *values):
        if not loaded.get("path"):
            return (error_md("load a file or a sample first"),) + (gr.skip(),) * (len(outputs) - 1)
        columns = {f: v.strip() for f, v in zip(fields or [], values) if v and v.strip()}
        try:
            runs = ctx.runs(request)
        except Exception as err:  # noqa: BLE001 - not signed in
            return (explain(err),) + (gr.skip(),) * (len(outputs) - 1)
        return show(loaded["path"], fmt_value, columns if fmt_value != "auto" or columns else None, model_source, max_length,
                    runs=runs)

    reload.click(do_reload, [loaded_state, fmt, fields_state, ctx.model_source, ctx.max_length, *boxes], outputs,
                 api_name="reload_data")

    def do_fix(loaded, chosen, model_source, max_length, request: gr.Request = None):
        if not loaded.get("ds"):
            return (error_md("load a file or a sample first"),) + (gr.skip(),) * (len(outputs) - 1)
        if not chosen:
            if not fix_choices(loaded.get("report") or {}):  # a clean file offers none to tick
                return (ok_md("Nothing to fix: the health report found no problem these fixes mend."),) + \
                    (gr.skip(),) * (len(outputs) - 1)
            return (error_md("tick at least one fix"),) + (gr.skip(),) * (len(outputs) - 1)
        try:
            _, record = apply_fixes(loaded["ds"], list(chosen), out_dir=ctx.runs(request).data_dir / "versions")
        except Exception as err:  # noqa: BLE001
            return (explain(err),) + (gr.skip(),) * (len(outputs) - 1)
        note = ok_md(f"Fixed: {esc(record.summary())}. The new version is now the training data.")
        return show(record.output, "auto", None, model_source, max_length, note=note)

    def new_model(loaded, fmt_value, fields, model_source, max_length, request: gr.Request, *values):
        """Another base model renders and counts tokens differently: check the data again with it."""
        if not loaded.get("path") or loaded.get("model") == model_source:
            return (gr.skip(),) * len(outputs)
        out = do_reload(loaded, fmt_value, fields, model_source, max_length, request, *values)
        return (ok_md(f"Checked again with the tokenizer and chat template of **{esc(model_source)}**."),) + tuple(out[1:])

    ctx.model_source.change(new_model, [loaded_state, fmt, fields_state, ctx.model_source, ctx.max_length, *boxes], outputs,
                            api_visibility="private")

    fix_btn.click(do_fix, [loaded_state, fixes, ctx.model_source, ctx.max_length], outputs, api_name="apply_fixes")

    def do_fill(loaded, model_source, max_length, request: gr.Request, *values):
        if not loaded.get("ds"):
            return (error_md("load a file or a sample first"),) + (gr.skip(),) * (len(outputs) - 1)
        try:
            record = data_fill.fill(loaded, values, ctx.runs(request).data_dir / "versions")
        except Exception as err:  # noqa: BLE001
            return (explain(err),) + (gr.skip(),) * (len(outputs) - 1)
        return show(record.output, "auto", None, model_source, max_length, note=ok_md(data_fill.filled_note(record)))

    fill_form.button.click(do_fill, [loaded_state, ctx.model_source, ctx.max_length, *fill_form.boxes],
                           outputs, api_name="fill_placeholders")
    loaded_state.change(data_fill.form, loaded_state, fill_form.components, api_visibility="private", show_progress="hidden")

    def re_preview(loaded, index, max_length):
        try:
            return preview_html(ctx, loaded, index, max_length)
        except Exception as err:  # noqa: BLE001
            return explain(err)

    example.change(re_preview, [loaded_state, example, ctx.max_length], preview, api_name="preview_example",
                   show_progress="hidden")

    def new_max_length(loaded, index, max_length):
        if not loaded.get("ds"):
            return gr.skip(), gr.skip()
        return figures(loaded, max_length)[0], re_preview(loaded, index, max_length)

    ctx.max_length.change(new_max_length, [loaded_state, example, ctx.max_length], [hist, preview],
                          api_visibility="private", show_progress="hidden")
    return {"sample": sample, "upload": upload, "report": report_box, "fixes": fixes, "preview": preview}

"""The Train tab's settings for task grpo (Gradio only): a rewards builder, the run-wide system prompt and a
Preview of what the base model's replies earn.

``build(ctx, task_widget)`` lays the panel out (shown while the task is grpo) and returns a ``gr.State`` whose value is
``{"task": "grpo", "config": {...}}``: the config keys the panel sets (``rewards``, ``data.system_prompt``; the ``grpo`` section's knobs are
the Train tab's own, from ``GRPOSettings``),
which the Train tab merges into the config it starts. Rewards are rows of a table: kind, weight, and the kind's fields
as ``key: value`` pairs (``column: answer``; lists as ``words: [sorry, cannot]``).
"""

from __future__ import annotations

import html
import logging

import gradio as gr
import yaml

from studio.tasks.grpo.rewards import KINDS
from studio.tasks.grpo.views import SAMPLE_COLUMNS, samples_rows  # the Runs tab's section shows the same

def error_md(message: str, hint: str = "") -> str:  # the page's error look (studio.ui.common), without importing it
    text = f"**⚠ {html.escape(message, quote=False)}**"
    return text + (f"\n\n**What to do:** {html.escape(hint, quote=False)}" if hint else "")


def explain(err: BaseException) -> str:
    from studio.core.errors import StudioError

    if isinstance(err, StudioError):
        return error_md(str(err))
    log.exception("reward preview failed", exc_info=err)
    return error_md(f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}",
                    "this looks like a bug in the studio; the server's log has the details")


log = logging.getLogger(__name__)
HEADERS = ["kind", "weight", "fields (key: value, comma-separated)"]
START_ROWS = [["mentions", 2.0, "column: answer"], ["length", 1.0, "max_words: 10"]]  # as examples/grpo.yaml


def kinds_md() -> str:
    lines = ["**Reward kinds** (each scores a reply from 0 to 1; the weighted sum is what GRPO maximises):"]
    for kind, (fields, what) in KINDS.items():
        shown = ", ".join(f"`{k}`{'' if req else ' (optional)'}" for k, (req, _) in fields.items())
        lines.append(f"- `{kind}`: {what}; {shown}")
    return "\n".join(lines)


def entries_of(rows) -> list[dict]:
    """The table's rows as ``rewards:`` entries; ValueError naming the row that cannot be read."""
    if rows is not None and hasattr(rows, "values") and hasattr(rows, "columns"):  # a pandas DataFrame
        rows = rows.values.tolist()
    out = []
    for i, row in enumerate(rows or [], 1):
        kind = str(row[0] if len(row) > 0 and row[0] is not None else "").strip()
        if not kind:
            continue  # an empty row left by adding one
        entry = {"kind": kind}
        weight = row[1] if len(row) > 1 else None
        if weight not in (None, ""):
            try:
                entry["weight"] = float(weight)
            except (TypeError, ValueError):
                raise ValueError(f"reward row {i}: weight '{weight}' is not a number") from None
        text = str(row[2] if len(row) > 2 and row[2] is not None else "").strip()
        if text:
            try:
                fields = yaml.safe_load("{" + text + "}") if not text.startswith("{") else yaml.safe_load(text)
            except yaml.YAMLError:
                raise ValueError(f"reward row {i}: fields '{text}' are not key: value pairs (e.g. column: answer)") from None
            if not isinstance(fields, dict):
                raise ValueError(f"reward row {i}: fields '{text}' are not key: value pairs (e.g. column: answer)")
            entry.update({str(k): v for k, v in fields.items() if k not in ("kind", "weight")})
        out.append(entry)
    return out


def panel_value(rows, system_prompt) -> dict:
    try:
        rewards = entries_of(rows)
        error = ""
    except ValueError as err:
        rewards, error = [], str(err)
    cfg = {"rewards": rewards, "data": {"system_prompt": system_prompt or ""}}
    return {"task": "grpo", "config": cfg, "error": error}


def preview_rows(result: dict) -> tuple[list[str], list[list]]:
    cols = result["columns"]
    return cols, [[row.get(c) for c in cols] for row in result["rows"]]


def verdict_md(result: dict) -> str:
    lines = []
    for v in result["rewards"]:
        mark = "✓" if v["learnable"] else "⚠"
        lines.append(f"{mark} **{v['reward']}** ({v['kind']}, weight {v['weight']:g}): mean {v['mean']:g}, fired on "
                     f"{v['fired']} of {v['replies']} replies: {v['note']}.")
    return "\n\n".join(lines)


def build(ctx, task_widget):
    """The panel (shown while ``task_widget`` says grpo); returns the ``gr.State`` the Train tab merges."""
    with gr.Group(visible=False, elem_id="grpo-panel") as group:
        gr.Markdown("#### Rewards (reinforcement learning, GRPO)\nWhat a good reply earns. Add or remove rows; "
                    "**Preview** samples the base model's replies to a few training prompts and scores them, so a "
                    "reward that never or always fires shows before training.")
        table = gr.Dataframe(value=START_ROWS, headers=HEADERS, datatype=["str", "number", "str"], row_count=(2, "dynamic"),
                             col_count=(3, "fixed"), interactive=True, label="Rewards", elem_id="grpo-rewards")
        with gr.Accordion("Reward kinds and their fields", open=False):
            gr.Markdown(kinds_md())
        with gr.Row():
            system = gr.Textbox(label="System prompt", info="Used for every prompt that has none of its own "
                                "(training, the tuned model's chat and its export).", scale=3, elem_id="grpo-system")
        with gr.Row():
            preview_btn = gr.Button("Preview rewards on the base model", elem_id="grpo-preview", scale=2)
            n_prompts = gr.Number(3, label="Prompts", minimum=1, maximum=8, precision=0, scale=1, min_width=100)
            n_replies = gr.Number(4, label="Replies each", minimum=1, maximum=8, precision=0, scale=1, min_width=100)
        verdicts = gr.Markdown(elem_id="grpo-verdicts")
        shown = gr.Dataframe(headers=["prompt", "reply", "total"], label="Sampled replies and their scores",
                             interactive=False, wrap=True,
                             elem_id="grpo-preview-table")
        with gr.Row():
            samples_btn = gr.Button("Show the latest sampled replies of the run on this tab", elem_id="grpo-samples", scale=0)
            samples_note = gr.Markdown()
        samples = gr.Dataframe(headers=list(SAMPLE_COLUMNS), interactive=False, wrap=True,
                               label="Sampled replies while training", elem_id="grpo-samples-table")
        value = gr.State(panel_value(START_ROWS, ""))  # held per page, never sent by a client

    task_widget.change(lambda t: gr.Group(visible=t == "grpo"), task_widget, group, api_visibility="private",
                       show_progress="hidden")
    parts = [table, system]
    gr.on([p.change for p in parts], panel_value, parts, value, api_visibility="private", show_progress="hidden",
          trigger_mode="always_last")

    def run_preview(model_source, data, panel, prompts, replies, request: gr.Request = None):
        from studio.core.config import StudioConfig
        from studio.tasks.grpo.preview import preview

        if panel.get("error"):
            return error_md(panel["error"]), gr.skip()
        if not (data or {}).get("path"):
            return error_md("no prompts yet", "pick or upload a file of prompts in the Data tab"), gr.skip()
        try:
            runs = ctx.runs(request)
            path = runs.check_path(data["path"], "data file")
            source = runs.check_model(model_source)
            cfg = StudioConfig.from_dict({**panel["config"], "task": "grpo", "model": {"source": source},
                                          "data": {**panel["config"]["data"], "train": str(path),
                                                   "format": data.get("format") or "auto",
                                                   "columns": dict(data.get("columns") or {})}})
            runs.policy.check_code(cfg, runs.shared)
            for entry in cfg.rewards:  # a reward model or a file: this person's, or outside the runs folder
                if isinstance(entry, dict) and (entry.get("path") or entry.get("file")):
                    runs.check_path(str(entry.get("path") or entry.get("file")), "reward file")
            result = preview(cfg, int(prompts or 3), int(replies or 4), chat=None)
        except Exception as err:  # noqa: BLE001 - shown as a message
            return explain(err), gr.skip()
        headers, rows = preview_rows(result)
        import pandas as pd

        return verdict_md(result) or "no rewards", pd.DataFrame(rows, columns=headers)

    def show_samples(run_id, request: gr.Request = None):
        import pandas as pd

        if not run_id:
            return error_md("no run on this tab yet", "start a grpo run, or pick one in the Runs tab"), gr.skip()
        try:
            events = ctx.runs(request).events(run_id, ("samples",))  # the person's own runs only
        except Exception as err:  # noqa: BLE001 - the same refusal whether or not the run exists
            return explain(err), gr.skip()
        note, rows = samples_rows(events)
        return note, pd.DataFrame(rows, columns=list(SAMPLE_COLUMNS))

    samples_btn.click(show_samples, ctx.run_id, [samples_note, samples], api_name="grpo_samples")
    preview_btn.click(run_preview, [ctx.model_source, ctx.data, value, n_prompts, n_replies], [verdicts, shown],
                      api_name="grpo_preview", concurrency_limit=1)
    return value

"""The Data tab's placeholder form: one box per template placeholder the health report found, and a button
that writes a new version of the file with the values typed in (the ``fill_placeholders`` fix)."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from studio.data import apply_fixes
from studio.ui.common import esc

N_BOXES = 8  # placeholders offered in the form (the most frequent first); the CLI's --fill takes any number


@dataclass
class FillForm:
    group: gr.Group
    note: gr.Markdown
    boxes: list
    button: gr.Button

    @property
    def components(self) -> list:
        return [self.group, self.note, *self.boxes]


def build() -> FillForm:
    """The form, hidden until a report lists placeholders."""
    with gr.Group(visible=False, elem_id="data-fill") as group:
        note = gr.Markdown(elem_id="data-fill-note")
        with gr.Row():
            boxes = [gr.Textbox(visible=False, min_width=160, elem_id=f"data-fill-{i}") for i in range(N_BOXES)]
        button = gr.Button("Fill placeholders (a new version of the file)", elem_id="data-fill-apply")
    return FillForm(group, note, boxes, button)


def placeholders(report: dict) -> list[dict]:
    """The placeholders a report found: ``[{"key", "written", "records"}]``, most frequent first."""
    f = next((f for f in report.get("findings") or [] if f.get("check") == "placeholder"), None)
    return list(((f or {}).get("details") or {}).get("placeholders") or [])


def form(loaded: dict):
    """Updates for the form's components (``FillForm.components``) after a file was checked."""
    found = placeholders((loaded or {}).get("report") or {})[:N_BOXES]
    if not found:
        return (gr.update(visible=False), "", *[gr.update(visible=False, value="")] * N_BOXES)
    more = len(placeholders(loaded["report"])) - len(found)
    note = ("**Placeholders found**: type a value for each one to fill in (leave a box empty to keep it as it is)"
            + (f"; {more} more can be filled from the command line with `--fill NAME=VALUE`." if more else "."))
    boxes = [gr.update(visible=True, value="", label=f"{p['written']} ({p['records']} record{'s' if p['records'] != 1 else ''})",
                       placeholder=f"value for {p['key']}") for p in found]
    boxes += [gr.update(visible=False, value="")] * (N_BOXES - len(found))
    return (gr.update(visible=True), note, *boxes)


def fill(loaded: dict, values, out_dir):
    """Write the filled version with the values typed in the boxes (in the form's order); returns the fix
    record (raises StudioError when no value was typed)."""
    keys = [p["key"] for p in placeholders(loaded.get("report") or {})[:N_BOXES]]
    typed = {k: v for k, v in zip(keys, values) if v and v.strip()}
    _, record = apply_fixes(loaded["ds"], ["fill_placeholders"], out_dir=out_dir, fill=typed)
    return record


def filled_note(record) -> str:
    return f"Filled placeholders: {esc(record.summary())}. The new version is now the training data."

"""Single-answer feedback: one answer (or a conversation's last turn) with a true/false verdict on it, KTO-style
(``{"messages": [prompt turns], "completion": ..., "verdict": True/False}``), e.g. a ``label``/``kto_tag`` of
true/false next to a prompt and completion or messages."""

from __future__ import annotations

from studio.data.formats.base import DataFormat, find_column, message_style
from studio.data.formats.fields import ALIASES, RowError
from studio.data.formats.preference import prompt_text
from studio.data.formats.values import _with_system, as_text, as_verdict, is_verdict, message_list


class FeedbackFormat(DataFormat):
    name = "feedback"
    required = ("prompt", "verdict")
    optional = ("completion", "system")
    aliases = {"prompt": (*ALIASES["prompt"], *ALIASES["messages"])}
    claims = ("verdict",)
    claim_rank = 10
    rank = 20
    verdicts = True
    saved_columns = {"prompt": "messages", "completion": "completion", "verdict": "verdict"}
    about = ("single-answer feedback data: each record is one answer with a true/false (thumbs up/down) verdict "
             "on it, not a pair of answers. Train it with the feedback task (KTO); training it as chat would teach the bad answers too")

    def matches(self, rows, names) -> bool:
        verdict = _verdict_column(rows, names)
        if verdict is None:
            return False
        # an answer (a completion, or a conversation's last turn) judged good or bad
        return bool(find_column("completion", names, {verdict})
                    or any(message_style(rows, names[a]) for a in ALIASES["messages"] if a in names))

    def normaliser(self, cols):
        c_p, c_c, c_v, c_sys = cols["prompt"], cols.get("completion"), cols["verdict"], cols.get("system")

        def norm(row, skipped):
            prompt, completion = row.get(c_p), row.get(c_c) if c_c else None
            if isinstance(prompt, list):
                msgs = message_list(prompt, c_p, skipped)
            else:
                msgs = [{"role": "user", "content": as_text(prompt, c_p, required=False) or ""}]
            if isinstance(completion, (list, dict)):
                msgs += message_list(completion if isinstance(completion, list) else [completion], c_c, skipped)
            elif completion is not None:
                msgs.append({"role": "assistant", "content": as_text(completion, c_c) or ""})
            if not msgs or msgs[-1]["role"] != "assistant":
                raise RowError("the record has no answer for its verdict to judge")
            if c_sys:
                msgs = _with_system(msgs, row.get(c_sys))
            return {"messages": msgs[:-1], "completion": msgs[-1]["content"], "verdict": as_verdict(row.get(c_v), c_v)}

        return norm

    def preview_headers(self) -> list[str]:
        return ["prompt", "completion", "verdict"]

    def preview_row(self, rec, cut) -> list:
        return [cut(prompt_text(rec)), cut(rec["completion"]), cut("✓ good" if rec["verdict"] else "✗ bad")]


def _verdict_column(rows: list[dict], names: dict[str, str]) -> str | None:
    """A column that holds a true/false verdict on every record (by its name and its values)."""
    for alias in ALIASES["verdict"]:
        col = names.get(alias)
        values = [r.get(col) for r in rows if r.get(col) is not None] if col is not None else []
        if values and all(is_verdict(v) for v in values) and any(isinstance(v, bool) or isinstance(v, str) for v in values):
            return col
    return None


FORMAT = FeedbackFormat()

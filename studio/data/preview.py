"""Previews of data as plain data: the first records as a table. (Which tokens a task learns from is the
task's to say: ``Task.trained_pieces``.)

The web UI draws them (``studio.ui.data_view``): this package returns data, never figures or HTML.
"""

from __future__ import annotations


def sample_table(ds, limit: int = 20, width: int = 300) -> tuple[list[str], list[list]]:
    """The first records as a table (headers, rows) for display: line, then the fields of the format.

    Conversations show the system prompt, the first user turn and the first answer; long text is cut
    to ``width`` characters.
    """
    def cut(s: str) -> str:
        s = s.replace("\n", " ")
        return s if len(s) <= width else s[: width - 1] + "…"

    unit = "line" if ds.line_based else "record"
    recs = ds.records[:limit]
    if ds.format in ("text", "classification"):
        headers = [unit, "text"] + (["label"] if ds.format == "classification" else [])
        rows = [[n, cut(r["text"])] + ([r["label"]] if "label" in r else []) for n, r in zip(ds.lines, recs)]
        return headers, rows
    headers = [unit, "system", "user", "assistant", "turns"]
    if ds.format == "preference":
        headers = [unit, "prompt", "chosen", "rejected"]
    elif ds.format == "feedback":
        headers = [unit, "prompt", "completion", "verdict"]
    rows = []
    for n, r in zip(ds.lines, recs):
        msgs = r["messages"]
        first = {}
        for m in msgs:
            calls = ", ".join(f"{c['function']['name']}(...)" for c in m.get("tool_calls") or ())
            first.setdefault(m["role"], f"{m['content']} [calls {calls}]".strip() if calls else m["content"])
        if ds.format in ("preference", "feedback"):
            prompt = "\n".join(m["content"] for m in msgs if m["role"] != "system")
            answers = [r["chosen"], r["rejected"]] if "chosen" in r else [r["completion"], "✓ good" if r["verdict"] else "✗ bad"]
            rows.append([n, cut(prompt), *map(cut, answers)])
        else:
            rows.append([n, cut(first.get("system", "")), cut(first.get("user", "")), cut(first.get("assistant", "")),
                         len(msgs)])
    return headers, rows

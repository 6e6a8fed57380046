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
    rows = []
    for n, r in zip(ds.lines, recs):
        msgs = r["messages"]
        first = {}
        for m in msgs:
            first.setdefault(m["role"], m["content"])
        if ds.format == "preference":
            prompt = "\n".join(m["content"] for m in msgs if m["role"] != "system")
            rows.append([n, cut(prompt), cut(r["chosen"]), cut(r["rejected"])])
        else:
            rows.append([n, cut(first.get("system", "")), cut(first.get("user", "")), cut(first.get("assistant", "")),
                         len(msgs)])
    return headers, rows

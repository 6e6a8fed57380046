"""Previews of data as plain data: the first records as a table. (Which tokens a task learns from is the
task's to say: ``Task.trained_pieces``.)

The web UI draws them (``studio.ui.data_view``): this package returns data, never figures or HTML.
"""

from __future__ import annotations

from studio.data.formats import registry


def sample_table(ds, limit: int = 20, width: int = 300) -> tuple[list[str], list[list]]:
    """The first records as a table (headers, rows) for display: line, then the columns the format shows
    (``DataFormat.preview_headers``, ``preview_row``).

    Conversations show the system prompt, the first user turn and the first answer; long text is cut
    to ``width`` characters.
    """
    def cut(s: str) -> str:
        s = s.replace("\n", " ")
        return s if len(s) <= width else s[: width - 1] + "…"

    fmt = registry.get(ds.format)
    unit = "line" if ds.line_based else "record"
    rows = [[n, *fmt.preview_row(r, cut)] for n, r in zip(ds.lines, ds.records[:limit])]
    return [unit, *fmt.preview_headers()], rows

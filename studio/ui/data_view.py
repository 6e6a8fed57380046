"""How the Data tab shows data: the trained-token mask as HTML, the length histogram and the label chart.

Built from what ``studio.data`` gives (pieces of text, token lengths, label counts); figures are plotly
figures (shown by the web UI, or saved with ``fig.write_html``).
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

TRAINED_STYLE = "background:#c6f6d5;color:#1c4532;border-radius:3px"
CONTEXT_STYLE = "color:#718096"


def token_mask_html(pieces: list[tuple[str, bool]], truncated: bool = False) -> str:
    """The preview as HTML: learned text highlighted, the rest greyed, line breaks kept."""
    spans = []
    for text, trained in pieces:
        style = TRAINED_STYLE if trained else CONTEXT_STYLE
        spans.append(f'<span style="{style}">{html.escape(text)}</span>')
    learned = sum(len(t) for t, k in pieces if k)
    total = sum(len(t) for t, _ in pieces) or 1
    legend = (f'<div style="font-size:0.85em;margin-bottom:6px"><span style="{TRAINED_STYLE};padding:0 4px">learned from</span> '
              f'<span style="{CONTEXT_STYLE}">context only (not learned)</span> &middot; {100 * learned / total:.0f}% of the '
              f'text is learned from{" &middot; cut at the max length" if truncated else ""}</div>')
    if not any(k for _, k in pieces):
        legend += ('<div style="color:#c53030;font-size:0.85em">Nothing in this example is learned from: the answer is '
                   "missing or cut off by the max length, so training skips it.</div>")
    body = "".join(spans)
    return (f'{legend}<pre style="white-space:pre-wrap;word-break:break-word;font-family:ui-monospace,monospace;'
            f'font-size:0.85em;margin:0">{body}</pre>')


def length_histogram(lengths: list[int], max_length: int | None = None, title: str = "Tokens per example"):
    """A histogram of example lengths with the max length marked and the share it would cut."""
    fig = go.Figure(go.Histogram(x=list(lengths), nbinsx=min(60, max(10, len(lengths) // 5 or 10)),
                                 marker_color="#4a90d9", name="examples"))
    if max_length and lengths:
        cut = sum(1 for n in lengths if n > max_length)
        title = (f"{title}: {cut} of {len(lengths)} ({100 * cut / len(lengths):.1f}%) longer than {max_length} would be cut"
                 if cut else f"{title}: all within the max length {max_length}, nothing is cut")
        fig.add_vline(x=max_length, line_dash="dash", line_color="#c53030",
                      annotation_text=f"max length {max_length}", annotation_position="top right")
    elif lengths:
        title = f"{title} (max {max(lengths)})"
    fig.update_layout(title=title, xaxis_title="tokens", yaxis_title="examples", bargap=0.05, showlegend=False,
                      margin={"l": 50, "r": 20, "t": 50, "b": 40}, height=320)
    return fig


def label_chart(labels: dict[str, int], title: str = "Records per label"):
    """A bar chart of label counts, most common first, with shares on the bars."""
    items = sorted(labels.items(), key=lambda kv: -kv[1])
    total = sum(labels.values()) or 1
    fig = go.Figure(go.Bar(x=[str(k) for k, _ in items], y=[v for _, v in items], marker_color="#4a90d9",
                           text=[f"{100 * v / total:.0f}%" for _, v in items], textposition="auto"))
    fig.update_layout(title=title, xaxis_title="label", yaxis_title="records", showlegend=False,
                      margin={"l": 50, "r": 20, "t": 50, "b": 40}, height=320)
    fig.update_xaxes(type="category")
    return fig

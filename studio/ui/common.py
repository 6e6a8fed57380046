"""Small helpers every tab uses: error messages for people, run labels, chat-message flattening."""

from __future__ import annotations

import functools
import html
import logging
import time
from types import MappingProxyType

from studio.core.errors import StudioError

log = logging.getLogger("studio.ui")


def error_md(message: str, hint: str = "") -> str:
    """A visible error: what went wrong and what to do. Never a traceback."""
    text = f"**⚠ {_md_escape(message)}**"
    if hint:
        text += f"\n\n**What to do:** {_md_escape(hint)}"
    return text


def ok_md(message: str) -> str:
    return f"✓ {message}"


def _md_escape(text: str) -> str:
    return str(text).replace("<", "&lt;").replace(">", "&gt;")


def explain(err: BaseException) -> str:
    """The markdown for an exception raised by the engine."""
    if isinstance(err, StudioError):
        return error_md(str(err))
    log.exception("unexpected error in the studio UI", exc_info=err)
    first = str(err).splitlines()[0] if str(err) else ""
    hint = "this looks like a bug in the studio; the server's log has the details"
    if isinstance(err, MemoryError) or "out of memory" in first.lower():
        hint = "out of memory: free memory (stop other runs, close chats) or pick a smaller model"
    return error_md(f"{type(err).__name__}: {first}", hint)


def guarded(n_outputs: int, message_index: int = 0):
    """Wrap a handler so that any error becomes a message in output ``message_index`` (others unchanged)."""

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            import gradio as gr

            try:
                return fn(*args, **kwargs)
            except Exception as err:  # noqa: BLE001 - shown to the person, logged for the admin
                out = [gr.skip()] * n_outputs
                out[message_index] = explain(err)
                return tuple(out) if n_outputs > 1 else out[0]

        return inner

    return wrap


STATE_ICONS = MappingProxyType({
    "queued": "◷", "running": "▶", "finished": "✓", "stopped": "■", "failed": "✗", "interrupted": "⚠",
})


def refresh_when_shown(ctx, tab_id: str, fn, inputs, outputs) -> None:
    """Run ``fn`` when the page loads and each time the tab ``tab_id`` is selected (lists of runs stay current)."""
    if tab_id in getattr(ctx, "tabs_by_id", {}):
        ctx.tabs_by_id[tab_id].select(fn, inputs, outputs, api_visibility="private")
    if hasattr(ctx, "on_load"):
        ctx.on_load.append((fn, inputs, outputs))


def run_label(info) -> str:
    """A run as one line for dropdowns: name, state, progress."""
    icon = STATE_ICONS.get(info.state, "")
    steps = f" {info.step}/{info.max_steps}" if info.max_steps else ""
    return f"{info.id}  {icon} {info.state}{steps} · {info.method} · {short_model(info.model)}"


def short_model(source: str) -> str:
    source = str(source or "")
    if "/" in source and len(source) > 40:
        return "…/" + source.rstrip("/").rsplit("/", 1)[-1]
    return source


def when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else ""


def flatten_content(content) -> str:
    """Chatbot content as plain text: Gradio 6 may send a string, a part dict or a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        if "text" in content:
            return str(content.get("text") or "")
        if "content" in content:
            return flatten_content(content["content"])
        return ""
    if isinstance(content, (list, tuple)):
        return "".join(flatten_content(part) for part in content)
    return str(content)


def history_to_messages(history) -> list[dict]:
    """Chatbot history (messages format) as plain {role, content} dicts for the engine."""
    out = []
    for m in history or []:
        role = m.get("role") if isinstance(m, dict) else getattr(m, "role", None)
        content = m.get("content") if isinstance(m, dict) else getattr(m, "content", None)
        if role in ("user", "assistant", "system"):
            out.append({"role": role, "content": flatten_content(content)})
    return out


def shown_path(runs, path) -> str:
    """A server path as the page shows it: whole to an admin (and in single-user mode), relative to the runs folder
    (or just the file name) to anyone else on a shared studio, who has no use for, and no business with, where
    the server keeps things."""
    path = str(path)
    if runs is None or not getattr(runs, "shared", False) or getattr(runs, "admin", False):
        return path
    from pathlib import Path

    try:
        return Path(path).resolve().relative_to(Path(runs.store.root).resolve()).as_posix()
    except (ValueError, OSError, AttributeError):
        return Path(path).name


def file_name(text) -> str:
    """A data file as a summary names it: its file name (a description that is not a path stays as it is)."""
    text = str(text)
    return text.rsplit("/", 1)[-1] if text.startswith("/") else text


def esc(text) -> str:
    return html.escape(str(text))


def uploaded_path(data_file) -> str | None:
    """The path of a file from an upload box (a path, a file object or Gradio's dict), or None."""
    if not data_file:
        return None
    if isinstance(data_file, str):
        return data_file
    return getattr(data_file, "name", None) or (data_file.get("path") if isinstance(data_file, dict) else None)

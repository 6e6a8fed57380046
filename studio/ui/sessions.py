"""A page's session state belongs to the person who opened it.

Gradio keeps each page's ``gr.State`` values under a session id that the browser picks and sends with every event.
On a shared studio ``studio.ui.served`` reads every session id as the caller's own (the same id is a different
session for each person). Below that, a session is bound to the first signed-in person whose event uses it; an
event from anyone else that reaches it runs on a fresh, empty session (it reads as "nothing loaded", and what it
writes goes nowhere). Every event goes through ``Blocks.process_api``, so this holds for every handler, present and
future, with no check of its own. Files an event hands out through Gradio's cache are recorded as the caller's
(``studio.ui.served.FileBook``), and every app Gradio makes for these Blocks gets the routes of
``studio.ui.served``.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
from gradio.state_holder import SessionState

from studio.ui import served


class StudioBlocks(gr.Blocks):
    studio = None  # the StudioContext, set by build_app

    @property
    def app(self):
        return self.__dict__.get("_studio_app")

    @app.setter
    def app(self, value):
        self.__dict__["_studio_app"] = value
        if value is not None and self.studio is not None:
            served.install(value, self.studio)

    async def process_api(self, block_fn, inputs, state=None, request=None, **kwargs):
        ctx = self.studio
        if ctx is None or not ctx.access.shared:
            return await super().process_api(block_fn, inputs, state=state, request=request, **kwargs)
        who = ctx.access.identity(request if not isinstance(request, list) else (request or [None])[0]).id
        state = bind(state, who, self)
        result = await super().process_api(block_fn, inputs, state=state, request=request, **kwargs)
        record_files(ctx.files, (result or {}).get("data"), who)
        return result


def bind(state: SessionState | None, who: str | None, blocks) -> SessionState | None:
    """The session state this caller may use: theirs, or a fresh one when it belongs to someone else."""
    if state is None:
        return None
    owner = getattr(state, "studio_owner", None)
    if owner is None:
        if who:  # nothing personal is made before sign-in, so the first signed-in caller takes the session
            state.studio_owner = who
        return state
    if owner == who:
        return state
    fresh = SessionState(blocks)
    fresh.studio_owner = who
    return fresh


def record_files(book, data, who: str | None) -> None:
    """Record every file path in an event's output as the caller's (Gradio serves it from its cache)."""
    if not who or data is None:
        return
    if isinstance(data, dict):
        if isinstance(data.get("path"), str):
            book.record(Path(data["path"]), who)
        for value in data.values():
            if isinstance(value, (dict, list, tuple)):
                record_files(book, value, who)
    elif isinstance(data, (list, tuple)):
        for value in data:
            record_files(book, value, who)

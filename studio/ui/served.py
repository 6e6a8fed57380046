"""What the studio's web server hands out, per person: downloads, uploads, Gradio's file cache and sessions.

On a shared studio (sign-in on) everyone's uploads sit in the one Gradio file cache, and Gradio keys a page's
session state by a session id the browser picks. This module adds to the app Gradio builds:

- ``/studio/download/{run_id}/{path}``: a run's export files (zip, GGUF, Modelfile, model card), served from the
  run folder to the person who owns the run (anyone in single-user mode). Every refusal is the same 404,
  whether the run or file exists or not. Works wherever the runs folder is (no copy into Gradio's cache).
- Gradio's upload route records who uploaded each file (``FileBook``); its file route serves a cached file only
  to the person it was uploaded by or handed to, and refuses others exactly as it refuses a missing file.
- Every route that takes a session id (joining the queue, its event stream, the heartbeat, direct calls) reads the
  id as the caller's own: a session id means a different session for each person, so another person's id opens
  a fresh session of the caller's. Deep links (``/gradio_api/deep_link``, ``?deep_link=``) are off.

Session state itself is bound to its person in ``studio.ui.sessions``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl, quote, urlencode

from gradio.utils import get_upload_folder
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse

from studio.ui.asgi_body import replaying
from studio.ui.common import esc

DOWNLOAD_ROUTE = "studio/download"
EXPORT_FOLDERS = ("export", "export-merged", "export-gguf")  # what the Export tab writes in a run folder
EXPORT_ZIPS = tuple(f"{name}.zip" for name in EXPORT_FOLDERS)
SESSION_ROUTES = ("/gradio_api/queue/join", "/gradio_api/queue/data", "/gradio_api/cancel")
SESSION_PREFIXES = ("/gradio_api/heartbeat/", "/gradio_api/stream/", "/gradio_api/run/", "/gradio_api/api/",
                    "/gradio_api/call/")
NOT_FOUND = "no such file; export it again from the Export tab"


class FileBook:
    """Who each file in Gradio's cache belongs to: the people who uploaded it (the same content uploaded twice is
    one file) or were handed it by an event."""

    LIMIT = 20_000  # entries kept before those whose file Gradio's cache cleaning removed are dropped

    def __init__(self):
        self._owners: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def record(self, path: str | Path, owner: str | None) -> None:
        if not owner:
            return
        with self._lock:
            if len(self._owners) >= self.LIMIT:
                self._owners = {p: o for p, o in self._owners.items() if Path(p).exists()}
            self._owners.setdefault(str(Path(path).resolve()), set()).add(owner)

    def owns(self, path: str | Path, owner: str | None) -> bool:
        with self._lock:
            return bool(owner) and owner in self._owners.get(str(Path(path).resolve()), ())


def check_file(ctx, runs, path: str | Path, what: str = "file") -> Path:
    """A file path a client sent (an upload, held-out data, a model): on a shared studio, a file in Gradio's cache
    only when this person uploaded it or was handed it, a file in the runs folder only when it is theirs
    (``UserRuns.check_path``). Every refusal reads like a file that does not exist."""
    resolved = Path(path).expanduser().resolve()
    if not runs.shared:
        return resolved
    book = getattr(ctx, "files", None)
    cache = Path(get_upload_folder()).resolve()
    if resolved == cache or cache in resolved.parents:
        if book is not None and book.owns(resolved, runs.owner):
            return resolved
        raise runs.no_file(resolved, what)
    return runs.check_path(resolved, what)


def download_url(run_id: str, relative: str) -> str:
    """The address of a run's export file, relative to the page (so it works under a root path too)."""
    return f"{DOWNLOAD_ROUTE}/{quote(run_id, safe='')}/{quote(relative)}"


def links_html(run_id: str, folder: str | Path, files: list[str | Path]) -> str:
    """Download links for files in a run folder, by file name and size."""
    folder = Path(folder)
    items = []
    for f in files:
        p = Path(f)
        rel = p.relative_to(folder).as_posix()
        size = p.stat().st_size if p.is_file() else 0
        items.append(f'<a href="{esc(download_url(run_id, rel))}" download="{esc(p.name)}">⬇ {esc(p.name)}</a>'
                     f' <small>({size / 1e6:,.1f} MB)</small>')
    return "<br>".join(items)


def _caller(app, scope) -> SimpleNamespace:
    """The request as ``Access.identity`` reads it: Gradio's signed-in name (its cookie) and the request."""
    request = Request(scope)
    name = None
    if getattr(app, "auth_dependency", None) is None:
        token = request.cookies.get(f"access-token-{app.cookie_id}") or \
            request.cookies.get(f"access-token-unsecure-{app.cookie_id}")
        name = app.tokens.get(token) if token else None
    return SimpleNamespace(username=name, request=request, cookies=request.cookies)


def install(app, ctx) -> None:
    """Add the download route to a Gradio app and, on a shared studio, the per-person checks in front of Gradio's
    own routes (a middleware next to the routes: it sees the sign-in session and uncompressed answers)."""
    if getattr(app, "_studio_served", False):
        return
    app._studio_served = True

    async def download(request: Request):
        run_id, rel = request.path_params["run_id"], request.path_params["path"]
        try:
            folder = ctx.runs(_caller(app, request.scope)).folder(run_id).path.resolve()
            target = (folder / rel).resolve()
            inside = target.relative_to(folder)
            top = inside.parts[0] if inside.parts else ""
            ok = (top in EXPORT_FOLDERS or (len(inside.parts) == 1 and top in EXPORT_ZIPS)) and target.is_file()
        except Exception:  # noqa: BLE001 - someone else's run, no such run, a path out of the folder: all the same
            ok = False
        if not ok:
            return JSONResponse({"detail": NOT_FOUND}, status_code=404)
        return FileResponse(target, filename=target.name)

    app.add_route(f"/{DOWNLOAD_ROUTE}/{{run_id}}/{{path:path}}", download, methods=["GET", "HEAD"])
    if ctx.access.shared:
        app.user_middleware.append(Middleware(PersonalRoutes, gradio_app=app, ctx=ctx))
    if getattr(ctx, "serving", None) is not None:  # the OpenAI-compatible API under /v1, ahead of everything else
        from studio.ui.serving import Routes

        app.user_middleware.insert(0, Middleware(Routes, serving=ctx.serving))


class PersonalRoutes:
    """Gradio's routes as each signed-in person should see them (see the module docstring)."""

    def __init__(self, app, gradio_app, ctx):
        self.inner, self.gradio_app, self.ctx = app, gradio_app, ctx
        self.cache = Path(gradio_app.uploaded_file_dir).resolve()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        path = scope["path"]
        root = scope.get("root_path") or ""
        if root and path.startswith(root):
            path = path[len(root):]
        who = self.ctx.access.identity(_caller(self.gradio_app, scope)).id
        if path == "/gradio_api/deep_link":  # Gradio answers "" for a session it does not know: so for every one
            await JSONResponse("")(scope, receive, send)
            return
        if path in ("/", "/config", "/config/"):  # a page or its config never loads a saved deep link
            scope = _without_query(scope, "deep_link")
        elif path == "/gradio_api/upload":
            await self._recording_upload(scope, receive, send, who)
            return
        elif path.startswith(("/gradio_api/file=", "/gradio_api/file/")):
            asked = path[len("/gradio_api/file="):]
            if not self._owned(asked, who):
                await JSONResponse({"detail": f"File not allowed: {asked}."}, status_code=403)(scope, receive, send)
                return
        elif who and (path in SESSION_ROUTES or path.startswith(SESSION_PREFIXES)):
            scope, receive = await _own_session(scope, receive, path, who)
        await self.inner(scope, receive, send)

    def _owned(self, asked: str, who: str | None) -> bool:
        """A path in Gradio's cache is served only to whom it belongs; others as Gradio decides."""
        try:
            resolved = Path(asked).resolve()
        except (OSError, ValueError):
            return True
        if resolved != self.cache and self.cache not in resolved.parents:
            return True
        return self.ctx.files.owns(resolved, who)

    async def _recording_upload(self, scope, receive, send, who):
        """Gradio's upload route, with each stored file recorded as the uploader's."""
        start, body = None, []

        async def capture(message):
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            data = b"".join(body)
            if start and start.get("status") == 200:
                try:
                    for path in json.loads(data):
                        self.ctx.files.record(path, who)
                except (ValueError, TypeError):
                    pass
            await send(start)
            await send({"type": "http.response.body", "body": data})

        await self.inner(scope, receive, capture)


def own_session(session_hash: str, who: str | None) -> str:
    """The session a signed-in person means by a session id: their own, whoever else used the same id."""
    if not (who and session_hash):
        return session_hash
    return f"{session_hash}~{hashlib.sha256(who.encode()).hexdigest()[:16]}"


def _without_query(scope, name: str):
    query = [(k, v) for k, v in parse_qsl(scope.get("query_string", b"").decode(), keep_blank_values=True) if k != name]
    return dict(scope, query_string=urlencode(query).encode())


async def _own_session(scope, receive, path: str, who: str):
    """Read the session id of a request (in its path, query or JSON body) as the caller's own."""
    scope = dict(scope)
    parts = path.split("/")  # /gradio_api/heartbeat/<id>, /gradio_api/stream/<id>/<run>/...
    in_path = parts[2:3] == ["heartbeat"] or (parts[2:3] == ["stream"] and scope.get("method") == "GET")
    if in_path and len(parts) > 3 and parts[3]:
        own = own_session(parts[3], who)
        scope["path"] = scope["path"].replace(f"/{parts[2]}/{parts[3]}", f"/{parts[2]}/{own}", 1)
        scope["raw_path"] = scope["path"].encode()
    query = parse_qsl(scope.get("query_string", b"").decode(), keep_blank_values=True)
    if any(k == "session_hash" for k, _ in query):
        query = [(k, own_session(v, who) if k == "session_hash" else v) for k, v in query]
        scope["query_string"] = urlencode(query).encode()
    if scope.get("method") == "POST":
        receive = await _with_own_session_body(scope, receive, who)
    return scope, receive


async def _with_own_session_body(scope, receive, who: str):
    """Read a JSON request body and replay it with its ``session_hash`` read as the caller's own."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    try:
        data = json.loads(body)
        if isinstance(data, dict) and isinstance(data.get("session_hash"), str):
            data["session_hash"] = own_session(data["session_hash"], who)
            body = json.dumps(data).encode()
    except ValueError:
        pass
    scope["headers"] = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"] + \
        [(b"content-length", str(len(body)).encode())]
    return replaying(body, receive)

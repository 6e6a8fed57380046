"""Gradio's sign-in route, guarded: an ASGI middleware on the studio's app when it has a users file.

- ``POST /login``: refused with 429 (and ``Retry-After``) while the name or the client address must wait
  (``studio.ui.attempts``); otherwise Gradio checks the password through ``Access.sign_in``, and on success the
  new session (Gradio's access-token cookie) is tied to the account id that signed in, so a name used later by
  someone else never opens this session's runs, nor this one theirs.
- every other request: a session whose account was removed or whose join code expired is dropped from Gradio's
  sessions, so Gradio itself treats it as signed out (the page shows the sign-in form again), and the answer
  tells the browser to forget the session cookie.

The client address is the connection's (``scope["client"]``); behind a reverse proxy, run the server with the
proxy's forwarded-address headers trusted so that this is the person's address, not the proxy's.
"""

from __future__ import annotations

import contextvars
import json
import math

from starlette.requests import Request

from studio.ui.asgi_body import replaying

# The sign-in in progress on this request: the middleware puts a dict here, Access.sign_in notes the account in it.
signing_in: contextvars.ContextVar[dict | None] = contextvars.ContextVar("studio_signing_in", default=None)

COOKIE_PREFIX = "access-token"


def session_token(cookies) -> str | None:
    """Gradio's session token among a request's cookies (``access-token-<app id>``, or its ``-unsecure-`` twin)."""
    for key, value in dict(cookies or {}).items():
        if key.startswith(COOKIE_PREFIX) and value:
            return value
    return None


class SignInGuard:
    def __init__(self, app, access):
        self.app = app
        self.access = access

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        root = scope.get("root_path", "") or ""
        if root and path.startswith(root):
            path = path[len(root):]
        if scope.get("method") == "POST" and path.rstrip("/") == "/login":
            return await self._login(scope, receive, send)
        cookies = Request(scope).cookies
        token = session_token(cookies)
        if not (token and self.access.session_ended(token)):
            return await self.app(scope, receive, send)
        tokens = getattr(scope.get("app"), "tokens", None)
        if isinstance(tokens, dict):
            tokens.pop(token, None)  # Gradio now answers this session as signed out
        ids = {key.removeprefix(f"{COOKIE_PREFIX}-").removeprefix("unsecure-") for key in cookies
               if key.startswith(COOKIE_PREFIX)}
        expired = [(b"set-cookie", cookie.encode()) for i in sorted(ids) for cookie in (  # both, as Gradio's logout
            f"{COOKIE_PREFIX}-{i}=; Max-Age=0; Path=/; SameSite=none; Secure",
            f"{COOKIE_PREFIX}-unsecure-{i}=; Max-Age=0; Path=/")]

        async def forget(message):  # and the browser drops the cookie
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *expired]}
            await send(message)

        return await self.app(scope, receive, forget)

    async def _login(self, scope, receive, send):
        request = Request(scope, receive)
        body = await request.body()
        try:
            name = str((await request.form()).get("username") or "")
        except Exception:  # noqa: BLE001 - not a form: Gradio answers it
            name = ""
        address = (scope.get("client") or ("", 0))[0]
        limit = self.access.attempts
        wait = limit.start(name, address)
        if wait > 0:
            seconds = math.ceil(wait)
            detail = (f"too many wrong sign-in tries for this name or from this address; wait {seconds} seconds, "
                      "then try again")
            await send({"type": "http.response.start", "status": 429,
                        "headers": [(b"content-type", b"application/json"), (b"retry-after", str(seconds).encode())]})
            await send({"type": "http.response.body", "body": json.dumps({"detail": detail}).encode()})
            return

        note: dict = {}  # Access.sign_in writes the account id here
        seen: dict = {}  # the response's status and session token

        async def watch(message):
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                cookies = [v for k, v in message.get("headers", []) if k.lower() == b"set-cookie"]
                tokens = [c.split(b";", 1)[0].split(b"=", 1)[1] for c in cookies if c.startswith(COOKIE_PREFIX.encode())]
                if tokens:
                    seen["token"] = tokens[0].decode()
                if message["status"] == 200 and seen.get("token") and note.get("account"):
                    self.access.remember(seen["token"], note["account"])
            await send(message)

        reset = signing_in.set(note)
        try:
            await self.app(scope, replaying(body, receive), watch)
        finally:
            signing_in.reset(reset)
        if seen.get("status") == 200:
            limit.succeeded(name, address)

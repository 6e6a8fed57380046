"""The studio's own OpenAI-compatible endpoint: ``/v1`` on the studio's web server, switched on from the page.

Requests under ``/v1`` go to ``studio.serve``'s app before Gradio sees them (no sign-in cookie: API clients send
``Authorization: Bearer <key>``). Keys are needed on a shared studio and on any address other than loopback; each
key reaches only its owner's served runs (``studio.serve.hub``), is limited to the policy's ``serve_per_minute``
requests a minute (429 with Retry-After), and is stored hashed next to the users file (``studio.server.api_keys``).
A single-user studio on 127.0.0.1 serves without keys. Served in the studio's process: one address and one port for
the page and the API (a Space or a reverse proxy exposes one), the studio's sign-in decides who may switch it on.

What each person serves (run ids and backend) is kept in ``serving.json`` beside the keys, so after a restart it is
served again: when the person opens the page or when one of their keys makes a request, whichever comes first, and
only the runs that are still theirs.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import threading
from pathlib import Path

from studio.serve.api import create_app
from studio.serve.errors import ApiError
from studio.serve.hub import Hub, is_loopback
from studio.serve.limits import RateLimit
from studio.server.api_keys import FILE_NAME, KeyBook

PREFIX = "/v1"
KEY_ENV = "STUDIO_API_KEY"
STATE_FILE = "serving.json"
log = logging.getLogger("studio.serve")


class Serving:
    def __init__(self, access, runs_dir: Path, host: str, hub: Hub | None = None, store=None):
        self.access = access
        self.policy = access.policy
        self.needs_keys = access.shared or not is_loopback(host)
        folder = access.users.path.parent if getattr(access, "users", None) else Path(runs_dir).parent
        self.keys = KeyBook(folder / FILE_NAME)
        self.limit = RateLimit(self.policy.serve_rate(self.needs_keys))
        self.hub = hub or Hub()
        self.store = store  # the run store: what is served again after a restart is checked against it
        self.state_file = folder / STATE_FILE
        self._state = self._read_state()  # owner -> {"runs": [run ids], "backend": name}
        self._waiting = set(self._state) if store is not None else set()  # to serve again, once, in this process
        self._state_lock = threading.Lock()
        self.app = create_app(self.models, gate=self.gate)

    # ---- what each person serves, kept across restarts --------------------------------------------
    def _read_state(self) -> dict:
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): v for k, v in data.items() if isinstance(v, dict) and isinstance(v.get("runs"), list)}

    def _write_state(self) -> None:
        tmp = self.state_file.with_name(self.state_file.name + ".tmp")
        try:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(self._state, indent=1), encoding="utf-8")
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.state_file)
        except OSError as err:  # serving goes on; only the memory of it across a restart is lost
            log.warning("could not write %s: %s", self.state_file, err)

    def remember(self, owner: str, run_ids: list[str], backend: str) -> None:
        """``owner`` serves these runs now (switched on from the page): serve them again after a restart."""
        with self._state_lock:
            self._waiting.discard(owner)
            self._state[owner] = {"runs": list(run_ids), "backend": backend}
            self._write_state()

    def forget(self, owner: str) -> None:
        with self._state_lock:
            self._waiting.discard(owner)
            if self._state.pop(owner, None) is not None:
                self._write_state()

    def remembered(self, owner: str) -> dict | None:
        with self._state_lock:
            entry = self._state.get(owner)
            return dict(entry) if entry else None

    def models(self, owner) -> dict:
        """What ``owner`` serves; what they served before a restart is served again on the first ask."""
        got = self.hub.models(owner)
        if got or owner is None or owner not in self._waiting:
            return got
        with self._state_lock:  # one restore at a time; a request that waited finds it done
            got = self.hub.models(owner)
            if got or owner not in self._waiting:
                return got
            self._waiting.discard(owner)
            entry = self._state.get(owner) or {}
            try:
                if not self.policy.serve or self.ended(owner):
                    return {}
                runs = self.store.for_user(owner or None, admin=not owner)  # still theirs: another's reads as missing
                folders = [str(runs.folder(r).path) for r in entry.get("runs") or []]
                return self.hub.start(owner, folders, entry.get("backend") or "transformers") if folders else {}
            except Exception as err:  # noqa: BLE001 - not served again; the page says so when they switch it on
                log.warning("serving %s again after the restart failed: %s", entry.get("runs"), err)
                self._state.pop(owner, None)
                self._write_state()
                return {}

    def gate(self, header: str):
        """The owner a request's key belongs to ("" on a single-user studio without keys)."""
        if not self.needs_keys:
            return ""
        info = self.keys.check(header[len("Bearer "):].strip() if header.startswith("Bearer ") else "")
        if info is None:
            raise ApiError(401, "missing, wrong or revoked API key; make one on the studio's Export tab (Serve) and "
                                "send it as 'Authorization: Bearer <key>'", code="invalid_api_key")
        if self.ended(info.owner):  # the account was removed (or its join code expired): its keys end with it
            raise ApiError(401, "missing, wrong or revoked API key; make one on the studio's Export tab (Serve) and "
                                "send it as 'Authorization: Bearer <key>'", code="invalid_api_key")
        if not self.policy.serve:
            raise ApiError(403, "serving is off on this studio (the operator's policy file)", code="serving_off")
        self.limit.take(info.id)
        return info.owner

    def ended(self, owner: str) -> bool:
        """True when ``owner`` is an account of the users file that may no longer sign in."""
        users = getattr(self.access, "users", None)
        return bool(owner) and getattr(self.access, "mode", "") not in ("single", "hf") and users is not None \
            and users.account(owner) is None


class Routes:
    """ASGI middleware on the studio's app: ``/v1`` and below to the API, everything else to Gradio."""

    def __init__(self, app, serving: Serving):
        self.inner, self.serving = app, serving

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            path, root = scope["path"], scope.get("root_path") or ""
            if root and path.startswith(root):
                path = path[len(root):]
            if path == PREFIX or path.startswith(PREFIX + "/"):
                await self.serving.app(scope, receive, send)
                return
        await self.inner(scope, receive, send)


def snippet(base_url: str, model: str, needs_key: bool) -> str:
    """The openai Python client, streaming a reply from ``model``: runs as pasted."""
    key = f'os.environ["{KEY_ENV}"]' if needs_key else '"none"'
    note = (f"# first: export {KEY_ENV}=<your key from the Serve panel>\n" if needs_key
            else "# no API key is needed on this studio (any value will do)\n")
    imports = "import os\n\n" if needs_key else ""
    return f'''{note}{imports}from openai import OpenAI

client = OpenAI(base_url={json.dumps(base_url)}, api_key={key})
stream = client.chat.completions.create(
    model={json.dumps(model)},
    messages=[{{"role": "user", "content": "Hello! What can you do?"}}],
    max_tokens=200,
    stream=True,
)
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)
print()
'''


def curl(base_url: str, model: str, needs_key: bool) -> str:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 100})
    auth = f' -H "Authorization: Bearer ${KEY_ENV}"' if needs_key else ""
    return f"curl -s {shlex.quote(base_url + '/chat/completions')} -H 'Content-Type: application/json'{auth} -d {shlex.quote(body)}"

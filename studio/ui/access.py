"""Who is asking: sign-in modes, identity per request, and the run store as that person sees it.

Three modes, chosen at start-up:

- ``single``: no sign-in (the default on 127.0.0.1). Everyone is the one user and sees every run.
- ``users``:  ``STUDIO_USERS=FILE`` turns on Gradio's sign-in form, checked against the users file
  (passwords or join codes; ``python -m studio users``). The signed-in name owns the runs.
- ``hf``:     on a Hugging Face Space with ``hf_oauth: true`` (``OAUTH_CLIENT_ID`` set), "Sign in with
  Hugging Face"; the HF username owns the runs. Until someone signs in, nothing can be started or opened.

Admins (users marked admin, join codes made with ``--admin``, names in ``STUDIO_ADMINS`` or the policy's
``admins``) also get the Admin tab. Every handler asks ``ctx.runs(request)`` for a ``studio.user_runs.UserRuns``.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from studio.errors import StudioError
from studio.policy import Policy
from studio.users import UserBook


@dataclass(frozen=True)
class Identity:
    name: str | None  # None: nobody signed in (single-user mode, or a Space page before sign-in)
    admin: bool


class Access:
    def __init__(self, mode: str = "single", users: UserBook | None = None, policy: Policy | None = None,
                 admins: tuple[str, ...] = ()):
        self.mode = mode
        self.users = users
        self.policy = policy or Policy()
        self.admins = set(admins) | set(self.policy.admins)
        self._seen: dict[str, float] = {}  # name -> last request time (the Admin tab's "signed in")
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, env: dict | None = None) -> Access:
        env = os.environ if env is None else env
        policy = Policy.load(env.get("STUDIO_POLICY") or None)
        admins = tuple(a.strip() for a in (env.get("STUDIO_ADMINS") or "").split(",") if a.strip())
        if env.get("STUDIO_USERS"):
            return cls("users", UserBook(env["STUDIO_USERS"]), policy, admins)
        if env.get("SPACE_ID") and env.get("OAUTH_CLIENT_ID"):
            return cls("hf", None, policy, admins)
        return cls("single", None, policy, admins)

    @property
    def shared(self) -> bool:
        return self.mode != "single"

    def identity(self, request) -> Identity:
        if self.mode == "single":
            return Identity(None, True)
        name = getattr(request, "username", None) if request is not None else None
        if not name and self.mode == "hf":
            info = (_session(request).get("oauth_info") or {}) if request is not None else {}
            if info and (info.get("expires_at") or time.time() + 1) > time.time():
                name = (info.get("userinfo") or {}).get("preferred_username")
        if not name:
            return Identity(None, False)
        with self._lock:
            self._seen[name] = time.time()
        admin = name in self.admins or bool(self.users and self.users.is_admin(name))
        return Identity(name, admin)

    def signed_in(self, within: float = 600.0) -> list[tuple[str, float]]:
        """Who made a request in the last ``within`` seconds, most recent first."""
        now = time.time()
        with self._lock:
            return sorted(((n, t) for n, t in self._seen.items() if now - t <= within), key=lambda x: -x[1])

    def runs(self, store, request):
        """The store as this person sees it; a clear refusal when sign-in is needed and missing."""
        who = self.identity(request)
        if self.mode == "single":
            return store.for_user(None, admin=True)
        if who.name is None:
            raise StudioError("sign in first" + (" with the 'Sign in with Hugging Face' button at the top of the page"
                                                 if self.mode == "hf" else ""))
        return store.for_user(who.name, admin=who.admin)

    def all_runs(self, store, request):
        """Every run, for the Admin tab: refused to anyone who is not an admin."""
        who = self.identity(request)
        if not who.admin:
            raise StudioError("only an admin can see everyone's runs")
        return store.for_user(None, admin=True)


def _session(request) -> dict:
    """The request's session (where Hugging Face sign-in keeps its user), or {} without one."""
    inner = getattr(request, "request", None)
    scope = getattr(inner, "scope", None)
    if isinstance(scope, dict) and "session" in scope:
        return scope["session"] or {}
    try:
        return dict(getattr(request, "session", None) or {})
    except Exception:  # noqa: BLE001 - no session middleware: nobody signed in
        return {}

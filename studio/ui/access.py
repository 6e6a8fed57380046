"""Who is asking: sign-in modes, identity per request, and the run store as that person sees it.

Three modes, chosen at start-up:

- ``single``: no sign-in (the default on 127.0.0.1). Everyone is the one user and sees every run.
- ``users``:  ``STUDIO_USERS=FILE`` turns on Gradio's sign-in form, checked against the users file
  (passwords or join codes; ``python -m studio users``). The signed-in **account id** owns the runs (names can
  be reused, ids cannot; see ``studio.server.users``). Each Gradio session is tied to the account that signed in
  (``studio.ui.sign_in``) and every request checks that account against the users file: a removed user or an
  expired join code is signed out within a request ("sign in again"). Sign-in tries are limited
  (``studio.ui.attempts``).
- ``hf``:     on a Hugging Face Space with ``hf_oauth: true`` (``OAUTH_CLIENT_ID`` set), "Sign in with
  Hugging Face"; the HF username owns the runs. Until someone signs in, nothing can be started or opened.

Admins: password users marked admin, password users named in ``STUDIO_ADMINS`` or the policy's ``admins``, join
codes made with ``--admin`` (a join code never makes anyone admin by name: no code can take an admin's name), and
on a Space the HF users so named. They also get the Admin tab. Every handler asks ``ctx.runs(request)`` for a
``studio.server.user_runs.UserRuns``.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from studio.core.errors import StudioError
from studio.server.policy import Policy
from studio.ui.attempts import AttemptLimit
from studio.ui.sign_in import SignInGuard, session_token, signing_in
from studio.server.users import UserBook

SIGN_IN_AGAIN = ("your sign-in has ended (the account was removed or its join code expired): sign in again "
                 "(Sign out at the top of the page, then sign in with a current password or join code)")


@dataclass(frozen=True)
class Identity:
    id: str | None  # the account id that owns runs; None: nobody signed in (single-user mode, or before sign-in)
    name: str | None  # shown on the page
    admin: bool
    ended: bool = False  # signed in once, but the account was removed or its join code expired


class Access:
    def __init__(self, mode: str = "single", users: UserBook | None = None, policy: Policy | None = None,
                 admins: tuple[str, ...] = (), attempts: AttemptLimit | None = None):
        self.mode = mode
        self.users = users
        self.policy = policy or Policy()
        self.admins = set(admins) | set(self.policy.admins)
        self.attempts = attempts or AttemptLimit()
        self._seen: dict[str, tuple[str, float]] = {}  # account id -> (name, last request time): "signed in"
        self._sessions: dict[str, str] = {}  # Gradio session token -> account id that signed in with it
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

    # ---- signing in (users mode) ------------------------------------------------------------------
    def launch_options(self, message: str = "") -> dict:
        """What ``demo.launch`` needs for sign-in from the users file: the check, the form's text, the guard."""
        if self.users is None:
            return {}
        from starlette.middleware import Middleware

        text = f"{message} Sign-in is limited: {self.attempts.describe()}; if Login does nothing, wait and try again."
        return {"auth": self.sign_in, "auth_message": text.strip(),
                "app_kwargs": {"middleware": [Middleware(SignInGuard, access=self)]}}

    def sign_in(self, name: str, secret: str) -> bool:
        """Gradio's ``auth=`` callable: the users file's answer; notes the account for ``SignInGuard``."""
        account = self.users.sign_in(name, secret, reserved=self.admins) if self.users else None
        note = signing_in.get()
        if account is not None and note is not None:
            note["account"] = account.id
        return account is not None

    def remember(self, token: str, account_id: str) -> None:
        with self._lock:
            self._sessions[token] = account_id

    def session_ended(self, token: str) -> bool:
        """True (once) for a session whose account may no longer sign in; it is forgotten here."""
        with self._lock:
            account_id = self._sessions.get(token)
        if account_id is None or self.users is None or self.users.account(account_id) is not None:
            return False
        with self._lock:
            self._sessions.pop(token, None)
        return True

    # ---- who is asking ----------------------------------------------------------------------------
    def identity(self, request) -> Identity:
        if self.mode == "single":
            return Identity(None, None, True)
        name = getattr(request, "username", None) if request is not None else None
        if self.mode == "hf":
            if not name:
                info = (_session(request).get("oauth_info") or {}) if request is not None else {}
                if info and (info.get("expires_at") or time.time() + 1) > time.time():
                    name = (info.get("userinfo") or {}).get("preferred_username")
            if not name:
                return Identity(None, None, False)
            return self._seen_now(Identity(name, name, name in self.admins))
        if not name:
            return Identity(None, None, False)
        token = session_token(_cookies(request))
        if token is not None:  # a browser or client session: the account that signed in with it
            with self._lock:
                account_id = self._sessions.get(token)
            account = self.users.account(account_id) if self.users else None
        else:  # called in-process (tests, embedding): whoever holds the name now
            account = self.users.holder(name) if self.users else None
        if account is None:
            return Identity(None, name, False, ended=True)
        admin = account.admin or (account.kind == "password" and account.name in self.admins)
        return self._seen_now(Identity(account.id, account.name, admin))

    def _seen_now(self, who: Identity) -> Identity:
        with self._lock:
            self._seen[who.id] = (who.name, time.time())
        return who

    def signed_in(self, within: float = 600.0) -> list[tuple[str, float]]:
        """Who made a request in the last ``within`` seconds (name, time), most recent first."""
        now = time.time()
        with self._lock:
            return sorted(((n, t) for n, t in self._seen.values() if now - t <= within), key=lambda x: -x[1])

    def owner_label(self, owner: str) -> str:
        """A run's owner as the Admin tab shows it: the account's name, or "removed: <name>"."""
        if self.users is None:
            return owner or "(none)"
        return self.users.label(owner)

    def accounts(self) -> list[tuple[str, str]]:
        """(label, account id) of everyone who may sign in now, for handing a run over."""
        if self.users is None:
            return []
        return [(f"{a.name} ({a.kind})", a.id) for a in self.users.accounts()]

    def runs(self, store, request):
        """The store as this person sees it; a clear refusal when sign-in is needed and missing."""
        who = self.identity(request)
        if self.mode == "single":
            return store.for_user(None, admin=True)
        if who.ended:
            raise StudioError(SIGN_IN_AGAIN)
        if who.id is None:
            raise StudioError("sign in first" + (" with the 'Sign in with Hugging Face' button at the top of the page"
                                                 if self.mode == "hf" else ""))
        return store.for_user(who.id, admin=who.admin)

    def all_runs(self, store, request):
        """Every run, for the Admin tab: refused to anyone who is not an admin."""
        who = self.identity(request)
        if who.ended:
            raise StudioError(SIGN_IN_AGAIN)
        if not who.admin:
            raise StudioError("only an admin can see everyone's runs")
        return store.for_user(None, admin=True)


def _cookies(request) -> dict:
    try:
        return dict(getattr(request, "cookies", None) or {})
    except Exception:  # noqa: BLE001 - a request object without cookies
        return {}


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

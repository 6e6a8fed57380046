"""Who may sign in to a shared studio: the users file (``STUDIO_USERS=FILE``).

A JSON file, written only by ``python -m studio users ...`` and by sign-ins that claim a join code (atomically,
readable by its owner only):

    {"users": {"ana": {"hash": "scrypt$...", "admin": true, "id": "id-5f0c..."}, ...},
     "codes": [{"hash": "sha256$...", "expires": 1767225600.0, "user": "kim", "admin": false, "id": "id-a91e..."}, ...],
     "former": {"id-77b2...": "lee", ...}}

Passwords are stored only as salted scrypt hashes (``hashlib.scrypt``), join codes as salted SHA-256 hashes. A join code is a
short-lived password for a workshop: a student signs in with a name of their choosing and the code; the
first sign-in ties the code to that name (nobody else can use it after), and it stops working when it expires.

Accounts. Runs and data folders belong to an **account id**, never to a name: names come back (a user is removed
and added again, a join code expires and the next one picks the same name), ids do not. Each password user gets a
random id when added (changing the password keeps it); each join code gets one when its first sign-in claims it.
Random ids are ``id-`` and 32 hex digits, longer than any name may be, so no name ever equals one.

Migration rule: an entry written before ids existed (a user or a claimed code without ``"id"``) keeps its **name as
its id**, so the runs it started (their owner is that name) stay its own. A name re-used after such an entry is
gone gets a random id like any new account and sees nothing of the old one's.

``former`` keeps the names of removed users and of expired codes that were cleared out, so the Admin tab can show
whose a run was ("removed: lee").

Names a join code cannot take: a password user's name and any name the operator made admin (``STUDIO_ADMINS``, the
policy's ``admins``), compared without regard to case; a name an unexpired code already holds. Admin by name
applies to password users only; a join-code account is admin only when its code was made with ``--admin``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from studio.core.errors import StudioError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: codes are read aloud and typed
_N, _R, _P = 2**14, 8, 1


def new_account_id() -> str:
    return "id-" + secrets.token_hex(16)


def hash_secret(secret: str, salt: bytes | None = None, fast: bool = False) -> str:
    """A salted hash: scrypt for passwords (people pick weak ones); salted SHA-256 for join codes, which are random
    (about 59 bits) and are checked against every open code at each sign-in."""
    salt = salt or secrets.token_bytes(16)
    if fast:
        return f"sha256${salt.hex()}${hashlib.sha256(salt + secret.encode('utf-8')).hexdigest()}"
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        if stored.startswith("sha256$"):
            _, salt, digest = stored.split("$")
            return hmac.compare_digest(hashlib.sha256(bytes.fromhex(salt) + secret.encode("utf-8")).hexdigest(), digest)
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(secret.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(bytes.fromhex(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME.match(name):
        raise StudioError(f"'{name}' is not a usable name: use 1 to 32 letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit")
    return name


@dataclass(frozen=True)
class Account:
    """One person who may sign in now: ``id`` owns their runs, ``name`` is shown."""
    id: str
    name: str
    admin: bool
    kind: str  # "password" or "join code"
    expires: float | None = None


def _user_account(name: str, user: dict) -> Account:
    return Account(user.get("id") or name, name, bool(user.get("admin")), "password")


def _code_account(code: dict) -> Account:
    return Account(code.get("id") or code["user"], code["user"], bool(code.get("admin")), "join code",
                   code.get("expires", 0))


class UserBook:
    """The users file. Sign-ins read it afresh; the per-request look-ups (``account``, ``holder``) use a copy read
    again whenever the file changes (its modification time, size or inode), so edits made with the CLI apply
    within a request, without a restart."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._cache: tuple | None = None  # (the file's stamp, its contents, its accounts)

    # ---- reading and writing ------------------------------------------------------------------
    def _read(self) -> dict:
        if not self.path.exists():
            return {"users": {}, "codes": [], "former": {}}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise StudioError(f"cannot read the users file {self.path}: {err}; fix it or make a new one with "
                              "python -m studio users add NAME") from err
        data.setdefault("users", {})
        data.setdefault("codes", [])
        data.setdefault("former", {})
        return data

    def _current(self) -> tuple[dict, list[Account]]:
        """The file's contents and every account in it (expired codes too), for looking only (never change them)."""
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
        cached = self._cache
        if cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
        data = self._read()
        everyone = [_user_account(n, u) for n, u in sorted(data["users"].items())]
        everyone += [_code_account(c) for c in data["codes"] if c.get("user")]
        self._cache = (stamp, data, everyone)
        return data, everyone

    def _write(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".users-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)
        self._cache = None

    # ---- the CLI's verbs ----------------------------------------------------------------------
    def add(self, name: str, password: str, admin: bool = False) -> None:
        """Add a user (a new account id) or change a user's password (the same id)."""
        name = check_name(name)
        if len(password) < 8:
            raise StudioError("the password is too short: use at least 8 characters")
        with self._lock:
            data = self._read()
            old = data["users"].get(name)
            account_id = (old.get("id") or name) if old else new_account_id()
            data["users"][name] = {"hash": hash_secret(password), "admin": bool(admin), "id": account_id}
            self._write(data)

    def remove(self, name: str) -> None:
        """Remove a user; their account id is gone for good (a user added later with that name gets a new one)."""
        with self._lock:
            data = self._read()
            if name not in data["users"]:
                raise StudioError(f"no user named '{name}' in {self.path}")
            gone = data["users"].pop(name)
            data["former"][gone.get("id") or name] = name
            self._write(data)

    def users(self) -> list[dict]:
        out = []
        for a in self.accounts():
            row = {"name": a.name, "admin": a.admin, "kind": a.kind, "id": a.id}
            if a.expires is not None:
                row["expires"] = a.expires
            out.append(row)
        return out

    def make_codes(self, count: int, hours: float, admin: bool = False) -> list[str]:
        """``count`` new join codes valid for ``hours``; returned in clear once, stored hashed. Expired codes go
        (their names are kept in ``former``)."""
        if not 1 <= count <= 1000 or not 0 < hours <= 24 * 30:
            raise StudioError("ask for 1 to 1000 codes valid for up to 30 days (e.g. --count 20 --hours 4)")
        codes = ["-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(3))
                 for _ in range(count)]
        expires = time.time() + hours * 3600
        with self._lock:
            data = self._read()
            now = time.time()
            for c in data["codes"]:
                if c.get("expires", 0) <= now and c.get("user"):
                    data["former"][c.get("id") or c["user"]] = c["user"]
            data["codes"] = [c for c in data["codes"] if c.get("expires", 0) > now]
            data["codes"] += [{"hash": hash_secret(c, fast=True), "expires": expires, "user": None, "admin": bool(admin)}
                              for c in codes]
            self._write(data)
        return codes

    # ---- accounts -----------------------------------------------------------------------------
    def accounts(self) -> list[Account]:
        """Everyone who may sign in now: password users, then join codes claimed and not expired."""
        now = time.time()
        return [a for a in self._current()[1] if a.expires is None or a.expires > now]

    def account(self, account_id: str | None) -> Account | None:
        """The account with this id if it may still sign in (None once removed or its code expired)."""
        if not account_id:
            return None
        return next((a for a in self.accounts() if a.id == account_id), None)

    def holder(self, name: str | None) -> Account | None:
        """The account that signs in with this name now: the password user, else the unexpired code holding it."""
        return next((a for a in self.accounts() if a.name == name), None) if name else None

    def label(self, account_id: str) -> str:
        """How the Admin tab shows an owner: the name, "removed: <name>" for an account that is gone, else the id."""
        if not account_id:
            return "(none)"
        live = self.account(account_id)
        if live is not None:
            return live.name
        data = self._current()[0]
        old = data["former"].get(account_id) or next(
            (c["user"] for c in data["codes"] if c.get("user") and (c.get("id") or c["user"]) == account_id), None)
        return f"removed: {old or account_id}"

    def is_admin(self, name: str) -> bool:
        account = self.holder(name)
        return bool(account and account.admin)

    # ---- signing in ---------------------------------------------------------------------------
    def sign_in(self, name: str, secret: str, reserved=()) -> Account | None:
        """The account ``name`` signs in to with ``secret`` (a password, or a join code not yet tied to someone
        else), or None. A join code cannot take a password user's name, a ``reserved`` name (the admins named
        by the operator) or a name another unexpired code holds; names compare without regard to case."""
        name = (name or "").strip()
        if not NAME.match(name) or not secret:
            return None
        with self._lock:
            data = self._read()
            user = data["users"].get(name)
            if user is not None:
                return _user_account(name, user) if verify_secret(secret, user.get("hash", "")) else None
            now = time.time()
            folded = name.casefold()
            if folded in {n.casefold() for n in (*data["users"], *reserved)}:
                return None
            for code in data["codes"]:
                if code.get("expires", 0) <= now or code.get("user") not in (None, name):
                    continue
                if not verify_secret(secret.strip().lower(), code.get("hash", "")):
                    continue
                if code.get("user") is None:
                    if any((c.get("user") or "").casefold() == folded and c.get("expires", 0) > now
                           for c in data["codes"]):
                        return None  # that name is taken by someone who joined with another code
                    code["user"] = name
                    code["id"] = new_account_id()
                    self._write(data)
                return _code_account(code)
        return None

    def check(self, name: str, secret: str, reserved=()) -> bool:
        """True when ``name`` may sign in with ``secret``."""
        return self.sign_in(name, secret, reserved) is not None

    def __call__(self, name: str, secret: str) -> bool:  # a plain ``auth=`` callable (the studio uses Access)
        return self.check(name, secret)

"""Who may sign in to a shared studio: the users file (``STUDIO_USERS=FILE``).

A JSON file, written only by ``python -m studio users ...`` (atomically, readable by its owner only):

    {"users": {"ana": {"hash": "scrypt$...", "admin": true}, ...},
     "codes": [{"hash": "scrypt$...", "expires": 1767225600.0, "user": null, "admin": false}, ...]}

Passwords are stored only as salted scrypt hashes (``hashlib.scrypt``), join codes as salted SHA-256 hashes. A join code is a
short-lived password for a workshop: a student signs in with a name of their choosing and the code; the
first sign-in ties the code to that name (nobody else can use it after), and it stops working when it expires.
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
from pathlib import Path

from studio.errors import StudioError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: codes are read aloud and typed
_N, _R, _P = 2**14, 8, 1


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


class UserBook:
    """The users file, read on every sign-in (so edits made with the CLI apply without a restart)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    # ---- reading and writing ------------------------------------------------------------------
    def _read(self) -> dict:
        if not self.path.exists():
            return {"users": {}, "codes": []}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise StudioError(f"cannot read the users file {self.path}: {err}; fix it or make a new one with "
                              "python -m studio users add NAME") from err
        data.setdefault("users", {})
        data.setdefault("codes", [])
        return data

    def _write(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".users-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    # ---- the CLI's verbs ----------------------------------------------------------------------
    def add(self, name: str, password: str, admin: bool = False) -> None:
        name = check_name(name)
        if len(password) < 8:
            raise StudioError("the password is too short: use at least 8 characters")
        with self._lock:
            data = self._read()
            data["users"][name] = {"hash": hash_secret(password), "admin": bool(admin)}
            self._write(data)

    def remove(self, name: str) -> None:
        with self._lock:
            data = self._read()
            if name not in data["users"]:
                raise StudioError(f"no user named '{name}' in {self.path}")
            del data["users"][name]
            self._write(data)

    def users(self) -> list[dict]:
        data = self._read()
        now = time.time()
        out = [{"name": n, "admin": bool(u.get("admin")), "kind": "password"} for n, u in sorted(data["users"].items())]
        for c in data["codes"]:
            if c.get("user") and c.get("expires", 0) > now:
                out.append({"name": c["user"], "admin": bool(c.get("admin")), "kind": "join code",
                            "expires": c["expires"]})
        return out

    def make_codes(self, count: int, hours: float, admin: bool = False) -> list[str]:
        """``count`` new join codes valid for ``hours``; returned in clear once, stored hashed. Expired codes go."""
        if not 1 <= count <= 1000 or not 0 < hours <= 24 * 30:
            raise StudioError("ask for 1 to 1000 codes valid for up to 30 days (e.g. --count 20 --hours 4)")
        codes = ["-".join("".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(3))
                 for _ in range(count)]
        expires = time.time() + hours * 3600
        with self._lock:
            data = self._read()
            data["codes"] = [c for c in data["codes"] if c.get("expires", 0) > time.time()]
            data["codes"] += [{"hash": hash_secret(c, fast=True), "expires": expires, "user": None, "admin": bool(admin)}
                              for c in codes]
            self._write(data)
        return codes

    # ---- signing in ---------------------------------------------------------------------------
    def check(self, name: str, secret: str) -> bool:
        """True when ``name`` may sign in with ``secret`` (a password, or a join code not yet tied to someone else)."""
        name = (name or "").strip()
        if not NAME.match(name) or not secret:
            return False
        with self._lock:
            data = self._read()
            user = data["users"].get(name)
            if user is not None:
                return verify_secret(secret, user.get("hash", ""))
            now = time.time()
            for code in data["codes"]:
                if code.get("expires", 0) <= now or code.get("user") not in (None, name):
                    continue
                if verify_secret(secret.strip().lower(), code.get("hash", "")):
                    if code.get("user") is None:
                        if any(c.get("user") == name and c.get("expires", 0) > now for c in data["codes"]):
                            return False  # that name is taken by someone who joined with another code
                        code["user"] = name
                        self._write(data)
                    return True
        return False

    def is_admin(self, name: str) -> bool:
        data = self._read()
        if name in data["users"]:
            return bool(data["users"][name].get("admin"))
        return any(c.get("user") == name and c.get("admin") and c.get("expires", 0) > time.time() for c in data["codes"])

    def __call__(self, name: str, secret: str) -> bool:  # Gradio's ``auth=`` callable
        return self.check(name, secret)

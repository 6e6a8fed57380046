"""API keys for the studio's OpenAI-compatible endpoint: each person makes, sees and revokes their own.

A key reads ``sk-studio-<id>-<secret>``: the id (8 hex digits) finds its entry, the secret (32 random bytes) is
checked against the entry's SHA-256 hash (a random secret needs no slow salted hash). The file, next to the users
file (or in the studio's data folder), is JSON written atomically and readable by its owner only:

    {"keys": {"<id>": {"owner": "id-5f0c...", "name": "laptop", "sha256": "...", "created": 1767225600.0}}}

The whole key is shown once, when it is made; afterwards only its id, name and date. Revoking deletes the entry, so
the key stops working at its next request.
"""

from __future__ import annotations

import hashlib
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

PREFIX = "sk-studio-"
FILE_NAME = "api_keys.json"
MAX_PER_OWNER = 20


@dataclass(frozen=True)
class KeyInfo:
    id: str
    owner: str
    name: str
    created: float


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyBook:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"keys": {}}
        except (OSError, ValueError) as err:
            raise StudioError(f"cannot read the API keys file {self.path}: {err}") from err
        return data if isinstance(data.get("keys"), dict) else {"keys": {}}

    def _write(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".api_keys-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def make(self, owner: str, name: str = "") -> tuple[KeyInfo, str]:
        """A new key for ``owner``: (its entry, the whole key, shown once)."""
        # a label: letters, digits, spaces and _ . - (no paths or markup), at most 40 characters
        name = " ".join(re.sub(r"[^\w .-]", "", name or "").split())[:40] or "key"
        with self._lock:
            data = self._read()
            if sum(1 for e in data["keys"].values() if e.get("owner") == owner) >= MAX_PER_OWNER:
                raise StudioError(f"you have {MAX_PER_OWNER} API keys, the most one person may hold; revoke one first")
            key_id = secrets.token_hex(4)
            while key_id in data["keys"]:
                key_id = secrets.token_hex(4)
            secret = secrets.token_urlsafe(32)
            entry = {"owner": owner, "name": name, "sha256": _digest(secret), "created": time.time()}
            data["keys"][key_id] = entry
            self._write(data)
        return KeyInfo(key_id, owner, name, entry["created"]), f"{PREFIX}{key_id}-{secret}"

    def keys(self, owner: str) -> list[KeyInfo]:
        with self._lock:
            entries = self._read()["keys"]
        return sorted((KeyInfo(k, e["owner"], e.get("name", ""), e.get("created", 0.0))
                       for k, e in entries.items() if e.get("owner") == owner), key=lambda k: k.created)

    def revoke(self, owner: str, key_id: str) -> None:
        """Delete one of ``owner``'s keys; another person's key reads as one that does not exist."""
        with self._lock:
            data = self._read()
            entry = data["keys"].get(key_id)
            if entry is None or entry.get("owner") != owner:
                raise StudioError(f"no API key {key_id!r} of yours; pick one from your list")
            del data["keys"][key_id]
            self._write(data)

    def check(self, key: str) -> KeyInfo | None:
        """The entry a whole key belongs to, or None for a wrong, revoked or malformed key."""
        if not key.startswith(PREFIX):
            return None
        key_id, _, secret = key[len(PREFIX):].partition("-")
        with self._lock:
            entry = self._read()["keys"].get(key_id)
        if entry is None or not secrets.compare_digest(_digest(secret), str(entry.get("sha256", ""))):
            return None
        return KeyInfo(key_id, entry["owner"], entry.get("name", ""), entry.get("created", 0.0))

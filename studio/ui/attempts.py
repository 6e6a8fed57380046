"""How often someone may try to sign in: a limit per name and per client address, with a growing wait.

After ``free`` failed tries (5 per name; 20 per address, since a classroom may share one), each further try must
wait: ``first_wait`` seconds after the last failure, doubling with each failure, up to ``max_wait``. A try made
during the wait is refused without looking at the password, and does not count. A success resets the count for
that name and takes back its own try from the address's count (no more: signing in to one's own account must not
buy more guesses at someone else's).
A count is forgotten after ``forget_after`` seconds without a failure.
"""

from __future__ import annotations

import threading
import time


class AttemptLimit:
    def __init__(self, free_per_name: int = 5, free_per_address: int = 20, first_wait: float = 5.0,
                 max_wait: float = 300.0, forget_after: float = 900.0, clock=time.monotonic):
        self.free = {"name": free_per_name, "address": free_per_address}
        self.first_wait, self.max_wait, self.forget_after = first_wait, max_wait, forget_after
        self.clock = clock
        self._failures: dict[tuple[str, str], tuple[int, float]] = {}  # (kind, key) -> (count, last failure)
        self._lock = threading.Lock()

    def _delay(self, kind: str, count: int) -> float:
        over = count - self.free[kind]
        return 0.0 if over < 0 else min(self.max_wait, self.first_wait * 2 ** over)

    def _keys(self, name: str, address: str) -> list[tuple[str, str]]:
        return [("name", (name or "").strip().casefold()), ("address", address or "")]

    def start(self, name: str, address: str) -> float:
        """A sign-in try: 0 when it may go ahead, else the seconds to wait (the try is refused and not counted).
        A try that goes ahead counts as a failure at once, so that many tries sent together cannot all slip in
        before the first one fails; ``succeeded`` takes it back."""
        now = self.clock()
        keys = self._keys(name, address)
        with self._lock:
            if len(self._failures) > 10_000:  # keep the table small: drop counts already forgotten
                self._failures = {k: v for k, v in self._failures.items() if now - v[1] < self.forget_after}
            counts, left = {}, 0.0
            for key in keys:
                count, last = self._failures.get(key, (0, now))
                if now - last > max(self.forget_after, self._delay(key[0], count)):
                    count = 0
                counts[key] = count
                left = max(left, last + self._delay(key[0], count) - now)
            if left > 0:
                return left
            for key in keys:
                self._failures[key] = (counts[key] + 1, now)
            return 0.0

    def succeeded(self, name: str, address: str) -> None:
        """The try was right: the name starts afresh, and the address's count drops by this one try."""
        name_key, address_key = self._keys(name, address)
        with self._lock:
            self._failures.pop(name_key, None)
            count, last = self._failures.get(address_key, (0, 0.0))
            if count > 1:
                self._failures[address_key] = (count - 1, last)
            else:
                self._failures.pop(address_key, None)

    def describe(self) -> str:
        return (f"after {self.free['name']} wrong tries for a name, sign-in for it pauses for "
                f"{self.first_wait:g} seconds, twice as long after each further wrong try (up to "
                f"{self.max_wait / 60:g} minutes)")

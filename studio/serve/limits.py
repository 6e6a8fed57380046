"""Requests per key: a token bucket per key (``per_minute`` requests a minute, bursts up to the same number)."""

from __future__ import annotations

import math
import threading
import time

from studio.serve.errors import ApiError


class RateLimit:
    def __init__(self, per_minute: float, clock=time.monotonic):
        self.per_minute, self.clock = float(per_minute), clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens left, when counted)
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """Count one request for ``key``; raises a 429 ``ApiError`` (with Retry-After) when its bucket is empty."""
        if self.per_minute <= 0:
            return
        rate = self.per_minute / 60.0
        with self._lock:
            now = self.clock()
            tokens, then = self._buckets.get(key, (self.per_minute, now))
            tokens = min(self.per_minute, tokens + (now - then) * rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                wait = math.ceil((1 - tokens) / rate)
                raise ApiError(429, f"Rate limit reached for this key: {self.per_minute:g} requests per minute; "
                                    f"try again in {wait} s", code="rate_limit_exceeded",
                               headers={"Retry-After": str(wait)})
            self._buckets[key] = (tokens - 1, now)

"""A token bucket per credential and scope, in this process (each replica counts its own).

A bucket holds one second's worth of requests (at least one) and refills at the scope's rate;
an empty bucket answers with the seconds until its next token (429 + ``Retry-After``).
"""

from __future__ import annotations

import threading
import time


class RateLimiter:
    def __init__(self, rates: dict[str, float]):
        """``rates``: requests per second and credential, by scope (0: unlimited)."""
        self.rates = rates
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # tokens, at
        self._lock = threading.Lock()

    def take(self, credential: str, scope: str) -> float | None:
        """None when the request may go; else the seconds to wait."""
        rate = self.rates.get(scope, 0)
        if rate <= 0:
            return None
        capacity, now = max(rate, 1.0), time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get((credential, scope), (capacity, now))
            tokens = min(capacity, tokens + (now - at) * rate)
            if tokens >= 1:
                self._buckets[(credential, scope)] = (tokens - 1, now)
                return None
            self._buckets[(credential, scope)] = (tokens, now)
            return (1 - tokens) / rate

"""Per-tenant ingestion rate limiting for the reference platform.

A token bucket of our own rather than a library: the 429 answer must say *how long to wait*
(``Retry-After``), and the common limiter packages only answer yes or no.
"""

from __future__ import annotations

import time


class TokenBucket:
    """Admits ``rate`` items per second with a burst of one second's worth."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.updated = time.monotonic()

    def take(self, items: int) -> float:
        """0 when admitted, else the seconds until ``items`` tokens will be there."""
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if items <= self.tokens:
            self.tokens -= items
            return 0.0
        return (min(items, self.rate) - self.tokens) / self.rate


class Unlimited:
    def take(self, items: int) -> float:
        return 0.0

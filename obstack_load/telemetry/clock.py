"""Timestamps for generated telemetry: now, backfilled history, and a share out of order.

Receivers treat these very differently (Loki and Mimir refuse samples too far in the past or out
of order), so a load test must be able to choose them.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

MODES = ("now", "backfill")
NS = 1_000_000_000


@dataclass(frozen=True)
class TimestampSettings:
    mode: str = "now"  # now: items are fresh; backfill: each batch lands somewhere in the window
    backfill_s: float = 3600.0
    out_of_order: float = 0.0  # share of items placed up to out_of_order_max_s earlier
    out_of_order_max_s: float = 300.0


class Clock:
    def __init__(self, settings: TimestampSettings, rng: random.Random) -> None:
        self.settings = settings
        self.rng = rng

    def batch_end_ns(self) -> int:
        """The newest timestamp of the next batch."""
        now = time.time_ns()
        if self.settings.mode == "backfill":
            return now - int(self.rng.uniform(0, self.settings.backfill_s) * NS)
        return now

    def spread(self, count: int, end_ns: int, window_ns: int = NS) -> list[int]:
        """``count`` ascending times over the ``window_ns`` before ``end_ns``, some displaced."""
        step = window_ns // max(count, 1)
        times = [
            end_ns - (count - index) * step + self.rng.randrange(step or 1)
            for index in range(count)
        ]
        share = self.settings.out_of_order
        if share > 0:
            late_ns = int(self.settings.out_of_order_max_s * NS)
            for index in range(count):
                if self.rng.random() < share:
                    times[index] -= self.rng.randrange(1, late_ns + 1)
        return times

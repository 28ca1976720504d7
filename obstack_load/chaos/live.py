"""What a chaos experiment knows of the Locust run it is attached to, while it runs.

Activities find it through ``runs.of(configuration)``. A ``LiveRun`` holds the fault timeline (when each fault was put on and taken off), a
snapshot of Locust's stats every second, and the health monitor, so that probes can judge a
window of the load and the verdict can measure recovery from the same record.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import gevent
from locust.stats import RequestStats

from obstack_load.chaos.experiment import ChaosSettings
from obstack_load.figures import window
from obstack_load.monitor.plugin import Monitor

SNAPSHOT_EVERY_S = 1.0
KEEP_SNAPSHOTS = 3600


@dataclass
class FaultChange:
    at: float  # unix seconds
    fault: str
    on: bool


@dataclass
class LiveRun:
    key: str
    environment: Any
    settings: ChaosSettings
    monitor: Monitor
    changes: list[FaultChange] = field(default_factory=list)
    snapshots: deque = field(default_factory=lambda: deque(maxlen=KEEP_SNAPSHOTS))
    recovered_at: float | None = None
    greenlet: gevent.Greenlet | None = None

    # -- the fault timeline -------------------------------------------------------------------

    def fault(self, name: str, on: bool) -> None:
        if not on and name not in self.active():
            return  # a rollback taking off what is already off changes nothing
        self.changes.append(FaultChange(time.time(), name, on))

    def on_for(self) -> float:
        """Seconds since the faults on now were put on (0 when none is)."""
        if not self.active():
            return 0.0
        return time.time() - max(c.at for c in self.changes if c.on)

    def active(self) -> set[str]:
        on: set[str] = set()
        for change in self.changes:
            (on.add if change.on else on.discard)(change.fault)
        return on

    def first_on(self) -> float | None:
        return next((c.at for c in self.changes if c.on), None)

    def last_off(self) -> float | None:
        """When the last fault was taken off, once none is on."""
        if self.active():
            return None
        return max((c.at for c in self.changes if not c.on), default=None)

    # -- the load, a window at a time ---------------------------------------------------------

    def start_snapshots(self) -> None:
        def keep() -> None:
            while True:
                self.snapshots.append((time.time(), window.take(self.environment, {}, None)))
                gevent.sleep(SNAPSHOT_EVERY_S)

        self.greenlet = gevent.spawn(keep)

    def stop(self) -> None:
        if self.greenlet is not None:
            self.greenlet.kill(block=False)

    def window(self, seconds: float) -> RequestStats:
        """The requests of the last ``seconds``, never reaching back past the last fault change:
        a probe judges the fault alone while it is on, and what came after once it is off."""
        now = time.time()
        latest = window.take(self.environment, {}, None)
        since = max([now - seconds, *(c.at for c in self.changes)])
        # the first snapshot at or after the window's start: nothing from before a change
        start = next((snap for at, snap in self.snapshots if at >= since), latest)
        return window.window_stats(start, latest, corrected=False)

    def endpoint_recovery(self) -> dict[str, float | None]:
        """Per endpoint: seconds from the fault's removal to the end of its last second with a
        failure; 0 when it had none after it, None when it was still failing at the end."""
        removed = self.last_off()
        if removed is None:
            return {}
        points = [(at, snap) for at, snap in self.snapshots if at >= removed]
        out: dict[str, float | None] = {}
        for index in range(1, len(points)):
            (_, previous), (at, snap) = points[index - 1], points[index]
            for key, entry in snap.entries.items():
                name = f"{key[1]} {key[0]}"
                out.setdefault(name, 0.0)
                if entry[1] > previous.entries.get(key, (0, 0))[1]:  # its failures grew
                    out[name] = None if index == len(points) - 1 else at - removed
        return out

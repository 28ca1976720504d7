"""What every process of a run records: interval aggregates read from Locust's own stats, the
``request`` listener's hot path (OTLP items, failures, and raw rows when every row is kept), this
process's CPU and memory, and shipping it all (to the master in a worker's report, or to the
local run).

Workers need no database access and no options of their own: their shipment rides in Locust's
report, and the master's ``RunRecorder`` merges it.
"""

from __future__ import annotations

import logging
import time
from array import array
from typing import Any

import gevent
import psutil
from locust.stats import RequestStats, StatsError

from obstack_load.results.intervals import IntervalAggregator
from obstack_load.results.rows import RawRows, drop_partial_row
from obstack_load.results.window import StatsWindow

logger = logging.getLogger(__name__)

SAMPLE_INTERVAL = 2.0
# 24 bytes a raw row (rows.py): 10 million is 240 MB, about 12 minutes of a database outage at
# 14,000 requests/s
DEFAULT_BUFFER_ROWS = 10_000_000


class NodeRecorder:
    """What every process records; on a worker it is shipped, elsewhere handed to the run."""

    def __init__(self) -> None:
        self.mode = "failures"
        self.keep_all, self.keep_failures = False, True
        self.interval_s = 5.0
        self.max_rows = DEFAULT_BUFFER_ROWS
        self.stats: RequestStats | None = None  # Locust's, read for intervals; None on a master
        self.window = StatsWindow(self.interval_s, time.time())
        self.intervals = IntervalAggregator(self.interval_s)  # read, not yet shipped
        self.raw = RawRows()
        self.errors: dict[tuple[str, str, str], list] = {}
        self.system: list[tuple] = []
        self.dropped = 0
        self.node = "local"
        self.role = "standalone"
        self.sampler: gevent.Greenlet | None = None
        self.reader: gevent.Greenlet | None = None

    def configure(
        self, options: Any, node: str, role: str, stats: RequestStats | None = None
    ) -> None:
        """``stats``: this process's Locust stats, where its users count their requests (none
        on a master, whose stats are its workers' added up and come with their reports)."""
        self.mode = getattr(options, "results_requests", "failures")
        self.keep_all = self.mode == "all"
        self.keep_failures = self.mode == "failures"
        self.interval_s = float(getattr(options, "results_interval", 5.0))
        self.max_rows = int(getattr(options, "results_buffer_rows", DEFAULT_BUFFER_ROWS))
        self.raw, self.errors, self.system, self.dropped = RawRows(), {}, [], 0
        self.node, self.role, self.stats = node, role, stats
        self.window = StatsWindow(self.interval_s, time.time())
        self.intervals = IntervalAggregator(self.interval_s)
        if stats is not None:
            self.window.take(stats, time.time(), None)

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        exception: Any = None,
        context: dict | None = None,
        **kwargs: Any,
    ) -> None:
        """The ``request`` listener itself: the hot path, run inline for every request.

        Interval figures come from Locust's own stats (``window``), so a successful request
        costs only the call unless every raw row is kept: then its three numbers are appended
        to an array (``rows.RawRows``). At 14,000 requests/s on one core each microsecond here
        is 1.4% of the generator.
        """
        try:
            if exception is not None:
                now = time.time()
                self._failed(
                    request_type, name, now, response_time or 0.0, response_length or 0, exception
                )
            elif self.keep_all:
                raw = self.raw
                if raw.count < self.max_rows:  # raw.add, inlined: this runs for every request
                    values = raw.groups.get((request_type, name, None))
                    if values is None:
                        values = raw.groups[(request_type, name, None)] = array("d")
                    values.extend((time.time(), response_time or 0.0, response_length or 0))
                    raw.count += 1
                else:
                    self.dropped += 1
            if context:
                items = context.get("obstack_items")
                if items:
                    key = (request_type, name)
                    self.window.items[key] = self.window.items.get(key, 0) + items
        except Exception:  # counted, never raised: a raise here would change Locust's exit code
            self.dropped += 1
            values = self.raw.groups.get((request_type, name, None))
            if values is not None:
                drop_partial_row(values)

    def _failed(
        self, method: str, name: str, now: float, response_time: float, length: int, exception: Any
    ) -> None:
        """A failed request's error, counted, and its raw row kept with the error text."""
        error = StatsError.parse_error(exception)
        entry = self.errors.get((method, name, error))
        if entry is None:
            self.errors[(method, name, error)] = [1, now, now]
        else:
            entry[0] += 1
            entry[2] = now
        if self.keep_all or self.keep_failures:
            if self.raw.count < self.max_rows:
                self.raw.add(method, name, error, now, response_time, length)
            else:
                self.dropped += 1

    def sample_forever(self) -> None:
        process = psutil.Process()
        process.cpu_percent(None)
        while True:
            gevent.sleep(SAMPLE_INTERVAL)
            memory = process.memory_info().rss
            self.system.append(
                (
                    time.time(),
                    self.node,
                    self.role,
                    process.cpu_percent(None),
                    memory,
                    process.memory_percent(),
                )
            )

    def start_sampler(self) -> None:
        if self.sampler is None or self.sampler.dead:
            self.sampler = gevent.spawn(self.sample_forever)
        if self.stats is not None and (self.reader is None or self.reader.dead):
            self.reader = gevent.spawn(self.read_forever)

    def read_forever(self) -> None:
        """Read Locust's stats at every interval boundary (``window``), so that each reading's
        span lies within one interval."""
        while True:
            gevent.sleep(max(self.window.next_boundary(time.time()) - time.time(), 0.0) + 0.001)
            try:
                self.read()
            except Exception:  # logged, never raised: a dead greenlet would change the exit code
                logger.exception("obstack-load results: reading Locust's stats failed")

    def read(self) -> None:
        if self.stats is not None:
            self.window.take(self.stats, time.time(), self.intervals)

    def carry(self, shipped: list[dict[str, Any]]) -> None:
        """A worker's Locust has just shipped and reset these entries (``window.carry``)."""
        self.window.carry(shipped)

    def ship(self) -> dict[str, Any]:
        """Everything recorded since the last call, for the master (or the local run)."""
        self.read()
        data = {
            "node": self.node,
            "intervals": self.intervals.ship(),
            "requests": self.raw.ship(),
            "errors": [[*k, *v] for k, v in self.errors.items()],
            "system": self.system,
            "dropped": self.dropped,
        }
        self.errors, self.system, self.dropped = {}, [], 0
        return data

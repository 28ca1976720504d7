"""What every process of a run records: the ``request`` listener's hot path, this process's CPU
and memory, and shipping it all (to the master in a worker's report, or to the local run).

Workers need no database access and no options of their own: their shipment rides in Locust's
report, and the master's ``RunRecorder`` merges it.
"""

from __future__ import annotations

import time
from array import array
from typing import Any

import gevent
import psutil
from locust.stats import StatsError

from obstack_load.results.intervals import IntervalAggregator
from obstack_load.results.rows import REQUEST_FIELDS, RawRows, success_rows, take_requests

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
        self.requests: dict[tuple[str, str], array] = {}  # (method, name) -> REQUEST_FIELDS...
        self.raw = RawRows()
        self.errors: dict[tuple[str, str, str], list] = {}
        self.system: list[tuple] = []
        self.dropped = 0
        self.node = "local"
        self.role = "standalone"
        self.sampler: gevent.Greenlet | None = None

    def configure(self, options: Any, node: str, role: str) -> None:
        self.mode = getattr(options, "results_requests", "failures")
        self.keep_all = self.mode == "all"
        self.keep_failures = self.mode == "failures"
        self.interval_s = float(getattr(options, "results_interval", 5.0))
        self.max_rows = int(getattr(options, "results_buffer_rows", DEFAULT_BUFFER_ROWS))
        self.requests, self.raw, self.errors, self.system, self.dropped = {}, RawRows(), {}, [], 0
        self.node, self.role = node, role

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

        It appends five numbers (``rows.REQUEST_FIELDS``) and returns: at 14,000 requests/s on
        one core each microsecond here is 1.4% of the generator. Histograms and raw rows are
        made from these numbers in bulk when they are shipped (``ship``).
        """
        try:
            values = self.requests.get((request_type, name))
            if values is None:
                values = self.requests[(request_type, name)] = array("d")
            now = time.time()
            response_time = response_time or 0.0
            response_length = response_length or 0
            values.extend(
                (
                    now,
                    response_time,
                    response_length,
                    context.get("obstack_items", 0) if context else 0,
                    0.0 if exception is None else 1.0,
                )
            )
            if exception is not None:
                self._failed(request_type, name, now, response_time, response_length, exception)
        except Exception:  # counted, never raised: a raise here would change Locust's exit code
            self.dropped += 1
            values = self.requests.get((request_type, name))
            if values is not None:  # a value that was not a number: undo its partial row
                del values[len(values) - len(values) % len(REQUEST_FIELDS) :]

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

    def ship(self) -> dict[str, Any]:
        """Everything recorded since the last call, for the master (or the local run)."""
        log, self.requests = self.requests, {}  # the listener appends to fresh arrays from now
        intervals = IntervalAggregator(self.interval_s)
        for method, name, table in take_requests(log):
            intervals.add_table(method, name, table)
            if self.keep_all:
                rows = success_rows(table)
                room = max(self.max_rows - self.raw.count, 0)
                if len(rows) > room:
                    self.dropped += len(rows) - room
                    rows = rows[:room]
                if len(rows):
                    self.raw.add_block(method, name, None, rows)
        data = {
            "node": self.node,
            "intervals": intervals.ship(),
            "requests": self.raw.ship(),
            "errors": [[*k, *v] for k, v in self.errors.items()],
            "system": self.system,
            "dropped": self.dropped,
        }
        self.errors, self.system, self.dropped = {}, [], 0
        return data

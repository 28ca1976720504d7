"""Interval aggregates taken from Locust's own request statistics, so no request pays for them.

Locust already counts every request in its ``RequestStats``: per (name, method) a count, the
failures, the total response time, the bytes, and a histogram of response times in Locust's own
buckets. Interval rows are the differences of those figures between two readings: one at every
interval boundary (``interval_s`` apart on the wall clock), and one whenever this process ships
what it has (a worker's report, the local run's tick). Our ``request`` listener then has nothing
to add for a successful request unless every raw row is kept (``node.NodeRecorder``).

Why differences rather than Locust's own per-report figures: a worker's Locust strips its
entries at each report, every 3 s on its own clock, while interval rows are aligned to the
wall clock on every worker, so that the master can add them up. On a worker the entries Locust
stripped and shipped are carried here (``carry``), so the figures read are always the whole
run's (carried + live), whatever Locust did in between.

What the histogram does not say exactly is each interval's minimum and maximum: they are
those of its histogram, in Locust's buckets (``locust.stats.bucket_response_time``: to the
millisecond below 100 ms, then to two significant digits), the precision of Locust's own
percentiles.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from locust.stats import RequestStats, StatsEntry

from obstack_load.core import histogram as histograms
from obstack_load.results.intervals import Bucket, IntervalAggregator

Key = tuple[str, str]  # (method, name)


@dataclass
class Totals:
    """One request name's figures since the run began (or since Locust's stats were reset)."""

    count: int = 0
    failures: int = 0
    total_ms: float = 0.0
    size: int = 0
    histogram: defaultdict[int, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, count: int, failures: int, total_ms: float, size: int, histogram: dict) -> None:
        self.count += count
        self.failures += failures
        self.total_ms += total_ms
        self.size += size
        histograms.add(self.histogram, histogram)

    def plus(
        self, count: int, failures: int, total_ms: float, size: int, histogram: dict
    ) -> Totals:
        copied = defaultdict(int, self.histogram)
        both = Totals(self.count, self.failures, self.total_ms, self.size, copied)
        both.add(count, failures, total_ms, size, histogram)
        return both

    def since(self, earlier: Totals) -> Bucket:
        """What was counted between ``earlier`` and this, as one interval's bucket."""
        histogram = {}
        for key, number in self.histogram.items():
            grown = number - earlier.histogram.get(key, 0)
            if grown > 0:
                histogram[key] = grown
        bucket = Bucket(
            self.count - earlier.count,
            self.failures - earlier.failures,
            self.total_ms - earlier.total_ms,
            min(histogram) if histogram else None,
            max(histogram) if histogram else 0.0,
            self.size - earlier.size,
        )
        bucket.histogram.update(histogram)
        return bucket

    def before(self, earlier: Totals) -> bool:
        """Whether ``earlier`` can precede this: a reset of Locust's stats makes it smaller."""
        return earlier.count <= self.count and earlier.failures <= self.failures


def _figures(entry: StatsEntry) -> tuple[int, int, float, int, dict[int, int]]:
    return (
        entry.num_requests, entry.num_failures, entry.total_response_time,
        entry.total_content_length, entry.response_times,
    )  # fmt: skip


class StatsWindow:
    """Reads Locust's stats of this process into interval buckets, with the items counted by
    the ``request`` listener beside them."""

    def __init__(self, interval_s: float, since: float) -> None:
        self.interval_s = interval_s
        self.since = since  # when the last reading was taken
        self.carried: dict[Key, Totals] = {}  # what Locust stripped into a worker's reports
        self.read: dict[Key, Totals] = {}  # the whole run's figures at the last reading
        self.items: dict[Key, int] = {}  # OTLP items since the last reading

    def carry(self, shipped: list[dict[str, Any]]) -> None:
        """Entries Locust has just serialised and reset for a worker's report."""
        for entry in shipped:
            key = (entry["method"], entry["name"])
            totals = self.carried.get(key)
            if totals is None:
                totals = self.carried[key] = Totals()
            totals.add(
                entry["num_requests"], entry["num_failures"], entry["total_response_time"],
                entry["total_content_length"], entry["response_times"],
            )  # fmt: skip

    def take(self, stats: RequestStats, now: float, into: IntervalAggregator | None) -> None:
        """Add what was counted since the last reading to the interval it began in; with no
        ``into``, only note the figures (the baseline at the start of a run, which leaves out
        whatever Locust still held from before it).

        Readings are taken at every boundary, so a reading's span lies within one interval
        (up to the few milliseconds a busy process wakes late)."""
        start = self.since - self.since % self.interval_s
        live = {(entry.method, entry.name): entry for entry in stats.entries.values()}
        for key in live.keys() | self.carried.keys():
            entry = live.get(key)
            totals = (self.carried.get(key) or Totals()).plus(
                *_figures(entry) if entry is not None else (0, 0, 0.0, 0, {})
            )  # a copy: the carried totals grow with the next report
            earlier = self.read.get(key)
            if earlier is None or not totals.before(earlier):
                earlier = Totals()
            grew = totals.count > earlier.count or totals.failures > earlier.failures
            if grew and into is not None:
                into.add(start, *key, totals.since(earlier))
            self.read[key] = totals
        for key, items in self.items.items():
            if into is not None:
                into.add(start, *key, Bucket(items=items))
        self.items = {}
        self.since = now

    def next_boundary(self, now: float) -> float:
        return now - now % self.interval_s + self.interval_s

"""Interval aggregates per request name, built from mergeable histograms.

The histograms are Locust's own (``window.StatsWindow`` reads them from Locust's stats, in
whatever buckets ``locust.stats.bucket_response_time`` makes, a locustfile's own included), so
merging every interval of a run gives exactly Locust's histogram and exactly its percentiles.
Workers ship their buckets to the master with each report; the master adds them up.
"""

from __future__ import annotations

import json
from collections import defaultdict

from obstack_load.core import histogram


class Bucket:
    """One interval of one request name."""

    __slots__ = ("count", "failures", "total_ms", "min_ms", "max_ms", "bytes", "items", "histogram")

    def __init__(
        self,
        count: int = 0,
        failures: int = 0,
        total_ms: float = 0.0,
        min_ms: float | None = None,
        max_ms: float = 0.0,
        size: int = 0,
        items: int = 0,
    ) -> None:
        self.count = count
        self.failures = failures
        self.total_ms = total_ms
        self.min_ms = min_ms
        self.max_ms = max_ms
        self.bytes = size
        self.items = items
        self.histogram: dict[int, int] = defaultdict(int)

    def merge(self, other: Bucket) -> None:
        self.count += other.count
        self.failures += other.failures
        self.total_ms += other.total_ms
        if other.min_ms is not None:
            self.min_ms = other.min_ms if self.min_ms is None else min(self.min_ms, other.min_ms)
        self.max_ms = max(self.max_ms, other.max_ms)
        self.bytes += other.bytes
        self.items += other.items
        histogram.add(self.histogram, other.histogram)

    def percentile(self, fraction: float) -> int:
        return histogram.percentile(self.histogram, self.count, fraction) or 0

    def ship(self) -> list:
        return [
            self.count,
            self.failures,
            self.total_ms,
            self.min_ms,
            self.max_ms,
            self.bytes,
            self.items,
            list(self.histogram.items()),
        ]

    @classmethod
    def unship(cls, data: list) -> Bucket:
        count, failures, total, low, high, size, items, shipped = data
        bucket = cls(count, failures, total, low, high, size, items)
        histogram.add(bucket.histogram, shipped)
        return bucket


Key = tuple[float, str, str]  # (interval start, method, name)


class IntervalAggregator:
    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.buckets: dict[Key, Bucket] = {}

    def add(self, start: float, method: str, name: str, bucket: Bucket) -> None:
        key = (start, method, name)
        if key in self.buckets:
            self.buckets[key].merge(bucket)
        else:
            self.buckets[key] = bucket

    def ship(self) -> list:
        """Everything counted so far, for the master; this side starts again from zero."""
        out = [
            [start, method, name, bucket.ship()]
            for (start, method, name), bucket in self.buckets.items()
        ]
        self.buckets = {}
        return out

    def merge(self, shipped: list) -> None:
        for start, method, name, data in shipped:
            self.add(start, method, name, Bucket.unship(data))

    def close(self, before: float | None = None) -> list[tuple[Key, Bucket]]:
        """Remove and return the buckets that ended before ``before`` (all when None)."""
        closed = [
            (k, b)
            for k, b in self.buckets.items()
            if before is None or k[0] + self.interval_s <= before
        ]
        for key, _ in closed:
            del self.buckets[key]
        return closed


def interval_row(run_id: str, interval_s: float, key: Key, bucket: Bucket) -> tuple:
    start, method, name = key
    p50, p90, p95, p99 = (bucket.percentile(p) for p in histogram.PERCENTILES)
    avg = bucket.total_ms / bucket.count if bucket.count else 0.0
    stored = json.dumps({str(k): v for k, v in sorted(bucket.histogram.items())})
    return (
        run_id, start, interval_s, method, name, bucket.count, bucket.failures, bucket.min_ms or 0.0, avg,
        bucket.max_ms, p50, p90, p95, p99, bucket.total_ms, bucket.bytes, bucket.items, stored,
    )  # fmt: skip

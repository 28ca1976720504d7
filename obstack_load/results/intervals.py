"""Interval aggregates per request name, built from mergeable histograms.

Response times are bucketed as Locust buckets them (``obstack_load.core.histogram``, or the
locustfile's own ``locust.stats.bucket_response_time`` if it replaced Locust's), so merging every
interval of a run gives exactly Locust's histogram and exactly its percentiles. Workers ship their
buckets to the master with each report; the master adds them up.
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
from locust import stats as locust_stats

from obstack_load.core import histogram
from obstack_load.results.rows import FAILED, ITEMS, LENGTH, RESPONSE_TIME, TS


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
_LOCUST_BUCKETING = locust_stats.bucket_response_time


def bucket_keys(times: np.ndarray) -> np.ndarray:
    """Locust's bucket for each response time: ``histogram.bucket_keys``, or the locustfile's
    own ``bucket_response_time`` for every value when it replaced Locust's (looked up now)."""
    bucketing = locust_stats.bucket_response_time
    return histogram.bucket_keys(times, None if bucketing is _LOCUST_BUCKETING else bucketing)


class IntervalAggregator:
    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.buckets: dict[Key, Bucket] = {}

    def add_table(self, method: str, name: str, table: np.ndarray) -> None:
        """Count many requests of one name at once: rows of ``rows.REQUEST_FIELDS``."""
        starts = table[:, TS] - table[:, TS] % self.interval_s
        distinct = np.unique(starts).tolist()
        for start in distinct:
            part = table if len(distinct) == 1 else table[starts == start]
            key = (start, method, name)
            bucket = self.buckets.get(key)
            if bucket is None:
                bucket = self.buckets[key] = Bucket()
            times = part[:, RESPONSE_TIME]
            low = float(times.min())
            bucket.count += len(part)
            bucket.failures += int(part[:, FAILED].sum())
            bucket.total_ms += float(times.sum())
            bucket.min_ms = low if bucket.min_ms is None else min(bucket.min_ms, low)
            bucket.max_ms = max(bucket.max_ms, float(times.max()))
            bucket.bytes += int(part[:, LENGTH].sum())
            bucket.items += int(part[:, ITEMS].sum())
            keys, counts = np.unique(bucket_keys(times), return_counts=True)
            histogram.add(bucket.histogram, zip(keys.tolist(), counts.tolist(), strict=True))

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
            incoming = Bucket.unship(data)
            key = (start, method, name)
            if key in self.buckets:
                self.buckets[key].merge(incoming)
            else:
                self.buckets[key] = incoming

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

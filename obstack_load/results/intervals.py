"""Interval aggregates per request name, built from mergeable histograms.

Response times are bucketed with Locust's own ``bucket_response_time``, and percentiles come from
Locust's own ``calculate_response_time_percentile``, so merging every interval of a run gives
exactly Locust's histogram and exactly its percentiles. Workers ship their buckets to the master
with each report; the master adds them up.
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
from locust import stats as locust_stats

from obstack_load.results.rows import FAILED, ITEMS, LENGTH, RESPONSE_TIME, TS

PERCENTILES = (0.5, 0.9, 0.95, 0.99)


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
        for key, value in other.histogram.items():
            self.histogram[key] += value

    def percentile(self, fraction: float) -> int:
        return locust_stats.calculate_response_time_percentile(self.histogram, self.count, fraction)

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
        count, failures, total, low, high, size, items, histogram = data
        bucket = cls(count, failures, total, low, high, size, items)
        for key, value in histogram:
            bucket.histogram[int(key)] += value
        return bucket


Key = tuple[float, str, str]  # (interval start, method, name)
_LOCUST_BUCKETING = locust_stats.bucket_response_time
# Locust's buckets per range of response times: below 100 ms to 1 ms, below 1 s to 10 ms...
_SCALES = ((100.0, 1.0), (1000.0, 10.0), (10000.0, 100.0), (np.inf, 1000.0))


def bucket_keys(times: np.ndarray) -> np.ndarray:
    """Locust's ``bucket_response_time`` for many response times at once, key for key.

    Python's ``round(x, -1)`` rounds the exact binary value half to even; ``rint(x / 10)``
    agrees except where the division lands within rounding error of a half, so those few
    values go through Locust's own function. A locustfile that replaced Locust's bucketing
    gets its function for every value.
    """
    bucketing = locust_stats.bucket_response_time  # looked up now: a locustfile may replace it
    if bucketing is not _LOCUST_BUCKETING:
        return np.array([bucketing(t) for t in times.tolist()], dtype=np.int64)
    keys = np.empty(len(times), dtype=np.int64)
    below = -np.inf
    for limit, scale in _SCALES:
        in_range = (times >= below) & (times < limit)
        below = limit
        if not in_range.any():
            continue
        chosen = times[in_range]
        scaled = chosen / scale
        rounded = np.rint(scaled) * scale
        near_half = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
        if scale != 1.0 and near_half.any():
            rounded[near_half] = [bucketing(t) for t in chosen[near_half].tolist()]
        keys[in_range] = rounded
    return keys


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
            for bucket_key, count in zip(keys.tolist(), counts.tolist(), strict=True):
                bucket.histogram[bucket_key] += count

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
    p50, p90, p95, p99 = (bucket.percentile(p) for p in PERCENTILES)
    avg = bucket.total_ms / bucket.count if bucket.count else 0.0
    histogram = json.dumps({str(k): v for k, v in sorted(bucket.histogram.items())})
    return (
        run_id, start, interval_s, method, name, bucket.count, bucket.failures, bucket.min_ms or 0.0, avg,
        bucket.max_ms, p50, p90, p95, p99, bucket.total_ms, bucket.bytes, bucket.items, histogram,
    )  # fmt: skip


def merged_histogram(histograms: list[dict | str]) -> tuple[dict[int, int], int]:
    """Add up stored interval histograms (JSON or dict); returns the histogram and its count."""
    total: dict[int, int] = defaultdict(int)
    for histogram in histograms:
        data = json.loads(histogram) if isinstance(histogram, str) else histogram
        for key, value in data.items():
            total[int(key)] += value
    return total, sum(total.values())


def percentile(histogram: dict[int, int], count: int, fraction: float) -> int | None:
    if not count:
        return None
    return locust_stats.calculate_response_time_percentile(histogram, count, fraction)

"""Response-time histograms: Locust's bucketing, merging and percentiles, free of Locust.

A histogram is ``{bucket: count}`` with Locust's buckets (about two significant digits), so a
merge of many histograms equals Locust's own and its percentiles equal Locust's. The results
plugin, the arrival schedule's corrected latencies and the ``runs`` queries all use this one
module.

Why our own copy of Locust's two small functions: importing ``locust`` monkey-patches the whole
process for gevent, and the ``runs`` commands and other readers must not pay for (or be changed
by) that. ``tests/test_histogram.py`` checks both against Locust's, key for key.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable

import numpy as np

PERCENTILES = (0.5, 0.9, 0.95, 0.99)
# Locust's buckets per range of response times: below 100 ms to 1 ms, below 1 s to 10 ms...
_SCALES = ((100.0, 1.0), (1000.0, 10.0), (10000.0, 100.0), (np.inf, 1000.0))


def bucket_response_time(response_time: float) -> int:
    """Locust's ``stats.bucket_response_time``: about two significant digits."""
    if response_time < 100:
        return round(response_time)
    if response_time < 1000:
        return int(round(response_time, -1))
    if response_time < 10000:
        return int(round(response_time, -2))
    return int(round(response_time, -3))


def bucket_width(response_time: float) -> float:
    """The step between neighbouring buckets at ``response_time``: 1 ms below 100 ms, 10 ms
    below 1 s, 100 ms below 10 s, then 1 s."""
    return next(scale for limit, scale in _SCALES if response_time < limit)


def bucket_keys(times: np.ndarray, bucketing: Callable[[float], int] | None = None) -> np.ndarray:
    """``bucket_response_time`` for many response times at once, key for key.

    Python's ``round(x, -1)`` rounds the exact binary value half to even; ``rint(x / 10)``
    agrees except where the division lands within rounding error of a half, so those few
    values go through the scalar function. A custom ``bucketing`` (a locustfile may replace
    Locust's) is called for every value.
    """
    if bucketing is not None:
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
            rounded[near_half] = [bucket_response_time(t) for t in chosen[near_half].tolist()]
        keys[in_range] = rounded
    return keys


def add(into: dict[int, int], other: dict[int, int] | Iterable[tuple[int, int]]) -> None:
    """Add ``other`` (a histogram or its items, as shipped) into ``into``."""
    for key, count in other.items() if isinstance(other, dict) else other:
        into[int(key)] += count


def merged(histograms: Iterable[dict | str]) -> tuple[dict[int, int], int]:
    """Add up histograms (dicts, or JSON as stored); returns the histogram and its count."""
    total: dict[int, int] = defaultdict(int)
    for histogram in histograms:
        add(total, json.loads(histogram) if isinstance(histogram, str) else histogram)
    return total, sum(total.values())


def percentile(histogram: dict[int, int], count: int, fraction: float) -> int | None:
    """Locust's ``calculate_response_time_percentile``; None for an empty histogram."""
    if not count:
        return None
    wanted = int(count * fraction)
    processed = 0
    for key in sorted(histogram, reverse=True):
        processed += histogram[key]
        if count - processed <= wanted:
            return key
    return 0


def percentiles(
    histogram: dict[int, int], fractions: Iterable[float] = PERCENTILES
) -> dict[str, int | None]:
    """``{"p50_ms": ..., "p95_ms": ...}`` for a histogram, as the summary and reports name them."""
    count = sum(histogram.values())
    return {f"p{round(p * 100)}_ms": percentile(histogram, count, p) for p in fractions}

"""The Locust-free histogram module is Locust's bucketing and percentile, value for value."""

from __future__ import annotations

import random

import numpy as np
from locust import stats as locust_stats

from obstack_load.core import histogram


def awkward_times(seed: int = 5, count: int = 50_000) -> list[float]:
    """Response times over every rounding regime, plus each exact half and its two neighbouring
    floats at every scale, where rounding rules differ most."""
    rng = random.Random(seed)
    times = [rng.lognormvariate(4, 2) for _ in range(count)]
    for scale in (1, 10, 100, 1000):
        for k in range(1, 120):
            half = (k + 0.5) * scale
            times += [half, np.nextafter(half, 0), np.nextafter(half, np.inf)]
    return times + [0.0, 0.49, 99.5, 99.49999, 999.4, 999.5, 9999.9, 10_000.0, 1e7]


def test_bucketing_equals_locusts_for_every_value_and_every_half():
    times = awkward_times(seed=11, count=20_000)
    expected = [locust_stats.bucket_response_time(t) for t in times]
    assert [histogram.bucket_response_time(t) for t in times] == expected


def test_percentiles_equal_locusts_on_random_histograms():
    rng = random.Random(12)
    for _ in range(300):
        data: dict[int, int] = {}
        for _ in range(rng.randint(1, 60)):
            key = locust_stats.bucket_response_time(rng.lognormvariate(3, 1.5))
            data[key] = data.get(key, 0) + rng.randint(1, 50)
        count = sum(data.values())
        for fraction in (0.5, 0.9, 0.95, 0.99, 0.999, 1.0):
            assert histogram.percentile(
                data, count, fraction
            ) == locust_stats.calculate_response_time_percentile(data, count, fraction)
    assert histogram.percentile({}, 0, 0.5) is None


def test_merged_adds_dicts_and_stored_json():
    total, count = histogram.merged([{1: 2, 10: 1}, '{"1": 3, "100": 4}'])
    assert dict(total) == {1: 5, 10: 1, 100: 4} and count == 10
    assert histogram.percentiles(total, (0.5, 0.99)) == {"p50_ms": 10, "p99_ms": 100}

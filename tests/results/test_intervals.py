"""Interval histograms merge exactly into Locust's own numbers."""

from __future__ import annotations

import random

import numpy as np
import pytest
from locust import stats as locust_stats
from locust.stats import RequestStats

from obstack_load.core.histogram import merged as merged_histogram
from obstack_load.core.histogram import percentile
from obstack_load.results.intervals import IntervalAggregator, bucket_keys, interval_row
from tests.test_histogram import awkward_times


def test_merged_worker_intervals_equal_locusts_percentiles():
    rng = random.Random(3)
    stats = RequestStats()
    workers = [IntervalAggregator(5.0) for _ in range(3)]
    master = IntervalAggregator(5.0)
    tables: list[list[list[float]]] = [[], [], []]
    for i in range(20_000):
        rt = rng.lognormvariate(4, 1.2)  # 1 ms to seconds: every rounding regime
        stats.log_request("GET", "/x", rt, 100)
        tables[i % 3].append([1000.0 + i * 0.01, rt, 100, 0, 0.0])
        if i % 1000 == 999:  # ship as workers do every report
            for worker, table in zip(workers, tables, strict=True):
                worker.add_table("GET", "/x", np.array(table))
                master.merge(worker.ship())
                table.clear()
    for worker in workers:
        master.merge(worker.ship())
    rows = [interval_row("r", 5.0, key, bucket) for key, bucket in master.close()]
    histogram, count = merged_histogram([row[-1] for row in rows])
    entry = stats.get("/x", "GET")
    assert count == entry.num_requests == 20_000
    assert histogram == dict(entry.response_times)
    for fraction in (0.5, 0.9, 0.95, 0.99, 0.999):
        assert percentile(histogram, count, fraction) == entry.get_response_time_percentile(
            fraction
        )
    assert sum(row[5] for row in rows) == 20_000
    assert len({row[1] for row in rows}) == 40  # 200 s of requests in 5 s intervals


def test_close_keeps_open_intervals():
    aggregator = IntervalAggregator(5.0)
    aggregator.add_table("GET", "/a", np.array([[100.0, 1, 0, 0, 0.0], [107.0, 1, 0, 3, 1.0]]))
    closed = aggregator.close(before=106.0)
    assert [key for key, _ in closed] == [(100.0, "GET", "/a")]
    remaining = aggregator.close()
    assert remaining[0][1].failures == 1 and remaining[0][1].items == 3


def test_bucket_keys_equal_locusts_bucketing_key_for_key():
    times = awkward_times()
    expected = [locust_stats.bucket_response_time(t) for t in times]
    assert bucket_keys(np.array(times)).tolist() == expected


def test_a_locustfiles_own_bucketing_is_honoured(monkeypatch):
    monkeypatch.setattr(locust_stats, "bucket_response_time", lambda t: int(t) // 7 * 7)
    assert bucket_keys(np.array([1.0, 15.5, 700.2])).tolist() == [0, 14, 700]


@pytest.mark.parametrize("interval", [5.0, 1.0])
def test_a_table_spanning_intervals_is_split_by_interval(interval):
    aggregator = IntervalAggregator(interval)
    table = np.array([[100.2, 5.0, 10, 2, 0.0], [101.4, 7.0, 20, 0, 1.0], [106.0, 9.0, 5, 1, 0.0]])
    aggregator.add_table("POST", "/v1/logs", table)
    buckets = dict(aggregator.close())
    assert sum(b.count for b in buckets.values()) == 3
    assert sum(b.failures for b in buckets.values()) == 1
    assert sum(b.items for b in buckets.values()) == 3
    assert sum(b.bytes for b in buckets.values()) == 35
    # the wall clock can step back (NTP): rows of one interval need not be adjacent
    stepped = IntervalAggregator(5.0)
    stepped.add_table(
        "GET", "/a", np.array([[100.0, 1, 0, 0, 0.0], [106.0, 1, 0, 0, 0.0], [101.0, 1, 0, 0, 0.0]])
    )
    assert {key[0]: b.count for key, b in stepped.close()} == {100.0: 2, 105.0: 1}
    first = buckets[(100.0, "POST", "/v1/logs")]
    assert first.min_ms == 5.0 and first.max_ms == (5.0 if interval == 1.0 else 7.0)

"""Interval histograms merge exactly into Locust's own numbers."""

from __future__ import annotations

import random

from locust.stats import RequestStats

from obstack_load.results.intervals import (
    IntervalAggregator,
    interval_row,
    merged_histogram,
    percentile,
)


def test_merged_worker_intervals_equal_locusts_percentiles():
    rng = random.Random(3)
    stats = RequestStats()
    workers = [IntervalAggregator(5.0) for _ in range(3)]
    master = IntervalAggregator(5.0)
    for i in range(20_000):
        rt = rng.lognormvariate(4, 1.2)  # 1 ms to seconds: every rounding regime
        worker = workers[i % 3]
        stats.log_request("GET", "/x", rt, 100)
        worker.add(1000.0 + i * 0.01, "GET", "/x", rt, 100, False, 0)
        if i % 1000 == 999:  # ship as workers do every report
            master.merge(worker.ship())
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
    aggregator.add(100.0, "GET", "/a", 1, 0, False, 0)
    aggregator.add(107.0, "GET", "/a", 1, 0, True, 3)
    closed = aggregator.close(before=106.0)
    assert [key for key, _ in closed] == [(100.0, "GET", "/a")]
    remaining = aggregator.close()
    assert remaining[0][1].failures == 1 and remaining[0][1].items == 3

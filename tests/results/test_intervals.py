"""Interval buckets read from Locust's own stats add up exactly to Locust's own numbers."""

from __future__ import annotations

import random

from locust import stats as locust_stats
from locust.stats import RequestStats

from obstack_load.core.histogram import merged as merged_histogram
from obstack_load.core.histogram import percentile
from obstack_load.results.intervals import Bucket, IntervalAggregator, interval_row
from obstack_load.results.window import StatsWindow


def test_merged_worker_intervals_equal_locusts_percentiles():
    """Three workers whose Locust strips its entries into a report every 1,000 requests (as a
    worker's does every 3 s), read at 2.5 s boundaries of their own, and a master adding up
    the shipments: the run's histogram is Locust's, key for key."""
    rng = random.Random(3)
    everything = RequestStats()  # what one Locust would have counted
    workers = [
        (RequestStats(), StatsWindow(5.0, 1000.0), IntervalAggregator(5.0)) for _ in range(3)
    ]
    master = IntervalAggregator(5.0)
    for i in range(20_000):
        now = 1000.0 + i * 0.01
        rt = rng.lognormvariate(4, 1.2)  # 1 ms to seconds: every rounding regime
        everything.log_request("GET", "/x", rt, 100)
        stats, window, shipped = workers[i % 3]
        stats.log_request("GET", "/x", rt, 100)
        if i % 250 == 249:  # a reading just after every 2.5 s, as on the boundaries
            for stats, window, shipped in workers:
                window.take(stats, now + 0.0101, shipped)
        if i % 1000 == 999:  # Locust's report strips its entries; ours carries and ships them
            for stats, window, shipped in workers:
                window.carry(stats.serialize_stats())
                window.take(stats, now + 0.0102, shipped)
                master.merge(shipped.ship())
    for stats, window, shipped in workers:
        window.take(stats, 1200.0, shipped)
        master.merge(shipped.ship())
    rows = [interval_row("r", 5.0, key, bucket) for key, bucket in master.close()]
    histogram, count = merged_histogram([row[-1] for row in rows])
    entry = everything.get("/x", "GET")
    assert count == entry.num_requests == 20_000
    assert histogram == dict(entry.response_times)
    for fraction in (0.5, 0.9, 0.95, 0.99, 0.999):
        assert percentile(histogram, count, fraction) == entry.get_response_time_percentile(
            fraction
        )
    assert sum(row[5] for row in rows) == 20_000
    assert sum(row[15] for row in rows) == 2_000_000  # bytes
    assert len({row[1] for row in rows}) == 40  # 200 s of requests in 5 s intervals
    assert all(row[5] == 500 for row in rows)  # 5 s of 100 requests/s in each


def test_a_reading_goes_to_the_interval_it_began_in_with_its_items_and_failures():
    stats = RequestStats()
    stats.log_request("GET", "/before", 3.0, 1)  # before the run's baseline: not counted
    window = StatsWindow(5.0, 100.0)
    window.take(stats, 100.0, None)
    aggregator = IntervalAggregator(5.0)
    stats.log_request("POST", "/v1/logs", 12.0, 10)
    stats.log_request("POST", "/v1/logs", 140.0, 20)
    stats.log_error("POST", "/v1/logs", "HTTP 503")
    window.items[("POST", "/v1/logs")] = 7
    window.take(stats, 105.001, aggregator)  # the boundary's reading, a millisecond late
    stats.log_request("POST", "/v1/logs", 5.0, 5)
    window.take(stats, 107.0, aggregator)
    buckets = dict(aggregator.close())
    assert set(buckets) == {(100.0, "POST", "/v1/logs"), (105.0, "POST", "/v1/logs")}
    first = buckets[(100.0, "POST", "/v1/logs")]
    assert (first.count, first.failures, first.total_ms, first.bytes, first.items) == (
        2, 1, 152.0, 30, 7,
    )  # fmt: skip
    # minimum and maximum are the histogram's, in Locust's buckets
    assert (first.min_ms, first.max_ms) == (12, 140)
    assert buckets[(105.0, "POST", "/v1/logs")].count == 1


def test_a_reset_of_locusts_stats_counts_from_zero():
    """``--reset-stats`` or the web UI's reset: the figures drop, and what comes after counts."""
    stats = RequestStats()
    window = StatsWindow(5.0, 100.0)
    window.take(stats, 100.0, None)
    aggregator = IntervalAggregator(5.0)
    for _ in range(5):
        stats.log_request("GET", "/a", 1.0, 0)
    window.take(stats, 101.0, aggregator)
    stats.reset_all()
    stats.log_request("GET", "/a", 1.0, 0)
    window.take(stats, 102.0, aggregator)
    assert [b.count for _, b in aggregator.close()] == [6]


def test_close_keeps_open_intervals():
    aggregator = IntervalAggregator(5.0)
    aggregator.add(100.0, "GET", "/a", Bucket(1, 0, 1.0, 1, 1, 0))
    aggregator.add(105.0, "GET", "/a", Bucket(1, 1, 1.0, 1, 1, 0, 3))
    closed = aggregator.close(before=106.0)
    assert [key for key, _ in closed] == [(100.0, "GET", "/a")]
    remaining = aggregator.close()
    assert remaining[0][1].failures == 1 and remaining[0][1].items == 3


def test_a_locustfiles_own_bucketing_is_what_the_intervals_hold(monkeypatch):
    monkeypatch.setattr(locust_stats, "bucket_response_time", lambda t: int(t) // 7 * 7)
    stats = RequestStats()
    window = StatsWindow(5.0, 100.0)
    aggregator = IntervalAggregator(5.0)
    for rt in (1.0, 15.5, 700.2):
        stats.log_request("GET", "/a", rt, 0)
    window.take(stats, 101.0, aggregator)
    ((_key, bucket),) = aggregator.close()
    assert dict(bucket.histogram) == {0: 1, 14: 1, 700: 1}

"""A step's settle rule: a queue past the capacity is rising, a busy machine's hiccup is not."""

from __future__ import annotations

from locust.stats import RequestStats, StatsEntry

from obstack_load.capacity.plugin import rising


def latencies(*ms: float, each: int = 100) -> StatsEntry:
    entry = StatsEntry(RequestStats(), "/", "GET")
    for value in ms:
        for _ in range(each):
            entry.log(value, 0)
    return entry


def test_a_hiccup_of_tens_of_ms_on_a_fast_target_is_not_a_queue():
    # a target answering in 2 ms; the second half's p95 at 40 ms: 20 times more, and 38 ms more,
    # but a queue past the capacity by 2.5% grows 75 ms over 3 s
    assert not rising(latencies(2, 3), latencies(2, 3, 40), half_s=3)


def test_a_queue_over_the_capacity_by_a_few_percent_is_rising():
    # 5% over the capacity: the wait grows 150 ms in 3 s
    assert rising(latencies(20, 60, 100), latencies(160, 210, 250), half_s=3)
    # the same rise over a longer half step is a smaller overload, under the search's precision
    assert not rising(latencies(20, 60, 100), latencies(160, 210, 250), half_s=10)


def test_a_few_ms_either_way_is_noise_even_on_short_steps():
    assert not rising(latencies(1), latencies(5), half_s=0.1)
    assert rising(latencies(1), latencies(8), half_s=0.1)

"""The step planner against a known capacity: geometric up, bisection, step down, the ends."""

from __future__ import annotations

import pytest

from obstack_load.capacity.search import RateSearch


def run(search: RateSearch, capacity: float) -> list[float]:
    tried = []
    while (rate := search.next_rate()) is not None:
        tried.append(rate)
        search.record(rate, rate <= capacity)
    return tried


@pytest.mark.parametrize("capacity", [57.0, 200.0, 1234.0, 9999.0])
def test_the_search_brackets_a_known_capacity_within_its_precision(capacity):
    search = RateSearch(start=50, maximum=20_000, precision=0.05)
    tried = run(search, capacity)
    assert search.outcome == "bracketed"
    assert search.passed <= capacity < search.failed
    assert (search.failed - search.passed) / search.passed <= 0.05
    assert tried[:2] == [50, 100]  # geometric first
    assert len(tried) <= search.max_steps


def test_when_the_start_fails_it_steps_down():
    search = RateSearch(start=100, maximum=1000)
    run(search, 30)
    assert search.passed <= 30 < search.failed and search.outcome == "bracketed"


def test_the_maximum_holding_and_nothing_holding_are_their_own_outcomes():
    high = RateSearch(start=100, maximum=1000)
    assert run(high, 5000)[-1] == 1000 and high.outcome == "above-maximum"
    low = RateSearch(start=10, maximum=1000, floor=1)
    run(low, 0.1)
    assert low.outcome == "below-floor" and low.passed is None


def test_bad_bounds_are_refused():
    with pytest.raises(ValueError):
        RateSearch(start=0, maximum=10)
    with pytest.raises(ValueError):
        RateSearch(start=20, maximum=10)

"""The open model's schedule (``run.arrival.Schedule``): every slot is offered, run late, or
counted as dropped, through re-tunes and take-overs."""

from __future__ import annotations

from obstack_load.run.arrival import HOLD_S, Schedule


def schedule_at(rate: float, start: float = 100.0, max_lag: float = 1.0) -> Schedule:
    schedule = Schedule()
    schedule.configure(rate, max_lag, start)
    return schedule


def test_slots_over_a_second_behind_are_dropped_and_counted_when_taken():
    schedule = schedule_at(10)
    slot, dropped = schedule.take(now=102.0)  # 2 s in: slots 100.0 .. 100.9 are over 1 s late
    assert (slot, dropped) == (101.0, 10)


def test_a_retune_counts_the_backlog_it_drops():
    """A schedule 3 s behind (no user was free) keeps 1 s of backlog; the other 2 s of slots
    are dropped, and the next take counts them (they used to vanish uncounted)."""
    schedule = schedule_at(10)
    start = schedule.retune(20, now=103.0)
    assert start == 102.0
    slot, dropped = schedule.take(now=103.0)
    assert (slot, dropped) == (102.0, 20)
    assert schedule.take(now=103.0) == (102.05, 0)  # the new rate, from the backlog kept


def test_a_share_going_to_zero_is_not_a_drop():
    schedule = schedule_at(10)
    schedule.retune(0, now=103.0)
    assert not schedule.enabled and schedule.unclaimed == 0


def test_a_rate_change_holds_within_the_hold_whatever_was_handed_out():
    schedule = schedule_at(10)
    for _ in range(50):  # a big pool took 5 s of slots ahead
        schedule.take(now=100.0)
    generation = schedule.generation
    start = schedule.retune(100, now=100.0)
    assert start == 100.0 + HOLD_S
    assert schedule.honoured(100.4, generation) and not schedule.honoured(101.0, generation)


def test_first_users_owe_nothing_from_before_they_started():
    schedule = Schedule()
    schedule.configure(0, 1.0, 100.0)
    assert schedule.retune(10, now=105.0, backlog=False) == 105.0
    assert schedule.take(now=105.0) == (105.0, 0)

"""The wait for recovery: the steady state must hold for the probes' own window, not once."""

from __future__ import annotations

from obstack_load.chaos import activities
from obstack_load.chaos.experiment import longest_window_s

EXPERIMENT = {
    "steady-state-hypothesis": {
        "probes": [
            {"name": "p95", "provider": {"arguments": {"percentile": 95, "window_s": 5}}},
            {"name": "ready", "provider": {"arguments": {"probe": "readyz"}}},
        ]
    }
}


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def wait(monkeypatch, holds_at) -> float | None:
    """``holds_at(t)``: whether the hypothesis holds ``t`` seconds after the removal at 100."""
    clock = Clock(100.0)
    monkeypatch.setattr(activities.time, "time", clock.time)
    monkeypatch.setattr(activities.time, "sleep", clock.sleep)
    monkeypatch.setattr(
        activities, "hypothesis_holds", lambda experiment, cfg: (holds_at(clock.now - 100), "p95")
    )
    return activities._wait_for_hypothesis(EXPERIMENT, 100.0, 30.0, 1.0, None)


def test_a_hold_that_the_stragglers_break_is_not_the_recovery(monkeypatch):
    # held at 2 s, but requests in flight since the outage completed slow at 3 s; held for good
    # from 4 s: recovered at 4 s, once it has held the probes' 5 s window
    assert wait(monkeypatch, lambda t: t >= 4 or t == 2) == 104.0


def test_a_steady_state_that_never_holds_for_the_window_is_not_recovered(monkeypatch):
    assert wait(monkeypatch, lambda t: int(t) % 3 == 0) is None


def test_the_longest_window_of_the_hypothesis_is_the_one_to_hold():
    assert longest_window_s(EXPERIMENT) == 5.0
    assert longest_window_s({}) == 0.0

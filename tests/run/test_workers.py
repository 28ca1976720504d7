"""Each worker's share of a run-wide rate (``run.workers.process_share``), from the master's
view of who runs what and the worker's own users, and the classes left without a worker."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from locust.runners import MasterRunner, WorkerRunner

from obstack_load.run import workers
from obstack_load.run.context import RunContext
from obstack_load.run.events import suite
from obstack_load.run.workers import CLASSES_OPTION, WORKERS_OPTION, Workers, process_share

LOGS, METRICS = "LogsIngestUser", "MetricsIngestUser"


def worker(client_id: str, by_worker=None, at_start: int = 2):
    # a real WorkerRunner's type, without a master to connect to: process_share reads only
    # its client id
    runner = WorkerRunner.__new__(WorkerRunner)
    runner.client_id, runner.greenlet = client_id, None
    options = SimpleNamespace(**{CLASSES_OPTION: by_worker, WORKERS_OPTION: at_start})
    return SimpleNamespace(runner=runner, parsed_options=options)


def test_at_the_start_the_workers_share_equally():
    assert process_share(worker("a"), 100.0) == 50.0


def test_only_workers_running_a_rate_s_classes_share_it():
    view = {"a": (LOGS,), "b": (LOGS, METRICS), "c": (METRICS,)}
    assert process_share(worker("a", view), 10.0, {LOGS}, {LOGS}) == 5.0
    assert process_share(worker("c", view), 10.0, {LOGS}, {METRICS}) == 0.0
    assert process_share(worker("c", view), 10.0, {METRICS}, {METRICS}) == 5.0


def test_a_joined_worker_without_users_takes_no_share_and_one_spawning_does():
    assert process_share(worker("a", {"a": (LOGS,), "b": ()}), 10.0, {LOGS}, {LOGS}) == 10.0
    assert process_share(worker("a", {"a": (LOGS,), "b": None}), 10.0, {LOGS}, {LOGS}) == 5.0
    # the joined worker itself, before the master has seen its users
    assert process_share(worker("b", {"a": (LOGS,), "b": ()}), 10.0, {LOGS}, {LOGS}) == 5.0


def test_users_moved_here_count_before_the_master_has_heard():
    view = {"a": (METRICS,), "b": (METRICS,)}  # the worker with the logs users left
    assert process_share(worker("a", view), 10.0, {LOGS}, {LOGS, METRICS}) == 10.0
    assert process_share(worker("a", view), 10.0, {LOGS}, {METRICS}) == 0.0


@pytest.fixture
def skipped():
    """``(name, slots)`` of every ``suite.slots_skipped`` fired during the test."""
    fired: list[tuple[str, int]] = []
    listener = suite.slots_skipped.add_listener(
        lambda **kw: fired.append((kw["name"], kw["slots"]))
    )
    yield fired
    suite.slots_skipped.remove_listener(listener)


def test_a_rate_no_worker_sends_is_counted_skipped_once_by_the_master(monkeypatch, skipped):
    """A worker left with every logs user at 100 s; two workers take them over at 103 s, one
    0.3 s after the other. Each taker starts afresh (both would have owed the whole gap while
    each believed itself alone: CI counted a 12 s gap twice); the master counts the 3 s of
    the logs rate's slots once. A rate some worker still sent is not a gap."""
    run, clock = Workers(), iter([100.0, 102.0, 103.0, 103.3])
    run.rates = {
        "otlp-logs": (10.0, frozenset({LOGS})),
        "otlp-metrics": (10.0, frozenset({METRICS})),
    }
    monkeypatch.setattr(workers.time, "time", lambda: next(clock))
    workers._note_orphans(None, run, {"a": (LOGS, METRICS), "b": (METRICS,)}, {"b": (METRICS,)})
    assert set(run.orphaned) == {"otlp-logs"} and skipped == []
    # a worker spawning users (None) is not known to send anything yet
    workers._note_orphans(None, run, {"b": (METRICS,)}, {"b": (METRICS,), "c": None})
    assert set(run.orphaned) == {"otlp-logs"} and skipped == []
    workers._note_orphans(None, run, {"b": (METRICS,)}, {"b": (METRICS, LOGS), "c": None})
    workers._note_orphans(None, run, {"b": (METRICS, LOGS)}, {"b": (METRICS, LOGS), "c": (LOGS,)})
    assert run.orphaned == {} and skipped == [("otlp-logs", 30)]


def test_a_gap_still_open_at_the_stop_ends_at_the_stop(monkeypatch, skipped):
    """The last worker with the logs users left at 100 s; the run was told to stop at 104 s
    (on the monotonic clock, as the run keeps it) and its ending counts the 4 s."""
    runner = MasterRunner.__new__(MasterRunner)  # its type only: no workers to bind for
    runner.greenlet = None
    master = SimpleNamespace(runner=runner, parsed_options=None)
    run = RunContext()
    state = run.slot(Workers)
    state.rates = {"otlp-logs": (10.0, frozenset({LOGS}))}
    state.orphaned = {"otlp-logs": 100.0}
    run.stop_requested_at = 50.0  # monotonic
    monkeypatch.setattr(workers.time, "time", lambda: 105.0)
    monkeypatch.setattr(workers.time, "monotonic", lambda: 51.0)
    workers._stop_watching(master, run)
    assert skipped == [("otlp-logs", 40)] and state.orphaned == {}

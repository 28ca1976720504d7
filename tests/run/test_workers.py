"""Each worker's share of a run-wide rate (``run.workers.process_share``), from the master's
view of who runs what and the worker's own users, and the classes left without a worker."""

from __future__ import annotations

import time
from types import SimpleNamespace

from locust.runners import WorkerRunner

from obstack_load.run import workers
from obstack_load.run.arrival import Schedule
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


def test_a_class_no_worker_runs_is_orphaned_until_one_does():
    run = Workers()
    workers._note_orphans(run, {"a": (LOGS,), "b": (METRICS,)}, {"b": (METRICS,)})
    assert set(run.orphaned) == {LOGS}
    since = run.orphaned[LOGS]
    workers._note_orphans(run, {"b": (METRICS,)}, {"b": (METRICS,), "c": None})
    assert run.orphaned == {LOGS: since}  # a spawning worker's users are not known yet
    workers._note_orphans(run, {"b": (METRICS,)}, {"b": (METRICS, LOGS)})
    assert run.orphaned == {}


def test_the_first_user_starts_its_schedule_when_it_starts():
    """The schedule was configured at the run's start; users spawned 5 s later owe nothing from
    before (a burst, or skips), even when their share is the rate configured."""

    class ProbeUser:
        pass

    schedule = Schedule()
    schedule.configure(10.0, 1.0, time.time() - 5)
    standalone = SimpleNamespace(
        runner=SimpleNamespace(user_classes_count={"ProbeUser": 1}),
        parsed_options=SimpleNamespace(),
    )
    Workers().split(standalone, "arrival", 10.0, schedule, ProbeUser())
    now = time.time()
    slot, dropped = schedule.take(now)
    assert dropped == 0 and slot >= now - 0.5, (slot - now, dropped)

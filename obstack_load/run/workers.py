"""The workers of a distributed run: which are in it as it goes, and each run-wide rate's
split among them.

An open-model rate (``--arrival-rate``, ``--otlp-total-rate``) is a total for the whole run.
Each worker that has users taking slots from it sends an equal share: ``total / n``, where
``n`` counts the workers whose users include one of the rate's user classes (a worker with
none of them sends none of it). The master looks every ``CHECK_S`` at the workers in the run
and the user classes each runs (Locust's own view, which it updates as soon as a worker has
spawned); when that changes (a worker joined, as Kubernetes scales workers up; one left or was
lost; Locust moved users between workers), it tells every worker, and each re-tunes its
schedules, so the run still offers what was asked. Before this, a third worker joining a
two-worker run at 100/s took the whole rate for itself (issue 28), and users of one signal all
moved to one worker sent a third of that signal's rate.

Each re-split is fired as ``suite.workers_changed`` (the run's record keeps them all in its
notes) and said in the summary. A rate that changes during the run (a capacity search's steps)
goes out the same way, with ``set_total``.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gevent
from locust import events
from locust import runners as locust_runners
from locust.runners import STATE_INIT, STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

from obstack_load.run.context import RunContext, run_of
from obstack_load.run.endings import join
from obstack_load.run.events import suite
from obstack_load.run.options import add_option

if TYPE_CHECKING:
    from obstack_load.run.arrival import Schedule

WORKERS_OPTION = "obstack_workers"  # the count at the start, in the options a spawn carries
# worker id -> the user classes it runs (None: not known yet), in the options a spawn carries
CLASSES_OPTION = "obstack_worker_classes"
RESPLIT_MESSAGE = "obstack_resplit"
# worker -> master: the user classes with users on the worker now, sent as soon as they change
# (Locust tells the master only once a whole spawn is done, and in its 3 s reports)
CLASSES_MESSAGE = "obstack_worker_classes"
logger = logging.getLogger(__name__)
CHECK_S = 0.25
# Locust's states of a worker that takes users ("ready" is STATE_INIT)
IN_THE_RUN = (STATE_INIT, STATE_SPAWNING, STATE_RUNNING)


def _liveness(text: str) -> int:
    seconds = int(text)
    if seconds < 1:
        raise argparse.ArgumentTypeError(f"must be 1 s or more, not {text}")
    return seconds


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:
    add_option(
        parser,
        "--worker-liveness",
        type=_liveness,
        default=locust_runners.HEARTBEAT_LIVENESS,
        help="master: seconds a worker may go without a heartbeat before it is marked missing "
        "(Locust's own: 3; a worker starved of CPU on a busy node may need more)",
    )


@dataclass
class Split:
    """One run-wide rate: its total, this process's schedule for its share, and the user
    classes that take slots from it."""

    total: float
    schedule: Schedule
    classes: set[str] = field(default_factory=set)


@dataclass
class Workers:
    """A run's workers (in its ``RunContext``). On a worker: the rates it sends a share of.
    On the master: the workers and classes it last saw, and every re-split since the start."""

    splits: dict[str, Split] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)  # the totals changed since the start
    seen: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    reported: dict[str, tuple[str, ...]] = field(default_factory=dict)  # CLASSES_MESSAGE's
    # master: each split rate the workers said they send a share of: its total, its classes
    rates: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)
    orphaned: dict[str, float] = field(default_factory=dict)  # split rate -> since when unsent
    changes: list[dict[str, Any]] = field(default_factory=list)
    watcher: gevent.Greenlet | None = None  # master: the workers; worker: its own classes

    def split(self, environment, name: str, total: float, schedule: Schedule, user) -> None:
        """``user`` takes slots of ``schedule``, this process's share of ``total``; called in
        each user's ``on_start``, which also tells the split which classes it serves."""
        split = self.splits.get(name)
        first = split is None or split.schedule is not schedule
        if first:
            split = self.splits[name] = Split(self.totals.get(name, total), schedule)
        user_class = type(user).__name__
        if user_class not in split.classes or not split.schedule.enabled:
            # a class new here, or users back on a worker whose share was 0: it takes part now
            split.classes.add(user_class)
            here = live_classes(environment) | {user_class}
            # the slots before the first user had no one to run them: none was skipped here (a
            # rate no worker sent meanwhile is counted once, by the master: ``_note_orphans``)
            self._retune(environment, name, split, here, backlog=not first, restart=first)

    def retune(self, environment) -> None:
        here = live_classes(environment)
        for name, split in self.splits.items():
            self._retune(environment, name, split, here)

    @staticmethod
    def _retune(
        environment, name: str, split: Split, here: set[str], backlog=True, restart=False
    ) -> None:
        """``restart``: the first user here, whose schedule starts now even at the same rate
        (it was configured at the run's start, before any user could take its slots)."""
        share = process_share(environment, split.total, split.classes, here)
        if share == split.schedule.rate and not restart:
            return
        # a schedule at 0 had no slots to fall behind on
        backlog = backlog and split.schedule.enabled
        unclaimed = split.schedule.unclaimed
        split.schedule.retune(share, time.time(), backlog=backlog)
        # each share, and what a re-tune drops, in the worker's log: a run whose totals are
        # off is read from these lines
        dropped = split.schedule.unclaimed - unclaimed
        skipped = f"; {dropped} slots over --arrival-max-lag skipped" if dropped else ""
        logger.info("obstack-load: %s: %.4g/s of %.4g/s here%s", name, share, split.total,
                    skipped)  # fmt: skip


def workers_of(environment) -> Workers:
    return run_of(environment).slot(Workers)


def live_classes(environment) -> set[str]:
    """The user classes that have users on this process now."""
    return {name for name, n in environment.runner.user_classes_count.items() if n}


def process_share(
    environment, total: float, classes: set[str] | None = None, here: set[str] | None = None
) -> float:
    """This process's part of a run-wide rate taken by users of ``classes`` (None: any), where
    ``here`` are the classes with users on this process now.

    The master's view decides for the other workers: which user classes each runs (None: it is
    spawning users, which are not known yet), sent with the options in every spawn message and
    in every re-split; before the first, the count of workers at the start; ``--expect-workers``
    only as the fallback (a web UI master, as in Kubernetes, may have more or fewer than it
    expects). A worker with no users (one that joined and that Locust has not given any yet,
    which may take seconds) takes no share: nobody would send it. For this worker its own
    users count too: the master hears of users moved here a moment later."""
    if not isinstance(environment.runner, WorkerRunner):
        return total
    options = environment.parsed_options
    by_worker = getattr(options, CLASSES_OPTION, None)
    if not by_worker:
        sharing = getattr(options, WORKERS_OPTION, 0) or getattr(options, "expect_workers", 1)
        return total / max(sharing or 1, 1)

    def runs_it(runs) -> bool:
        return runs is None or not classes or bool(set(runs) & classes)

    me = environment.runner.client_id
    if not ((here and runs_it(here)) or runs_it(by_worker.get(me))):
        return 0.0  # none of these users here: the others send it all
    sharing = 1 + sum(1 for w, runs in by_worker.items() if w != me and runs_it(runs))
    return total / sharing


def set_total(environment, name: str, total: float) -> None:
    """A new total for a split rate (a capacity search's next step): on the master, every
    worker is told; standalone, the local schedule is re-tuned."""
    if isinstance(environment.runner, MasterRunner):
        _tell_workers(environment, {name: total})
        return
    split = workers_of(environment).splits.get(name)
    if split is not None:
        split.total = total
        split.schedule.retune(total, time.time())


def _classes_by_worker(
    runner: MasterRunner, reported: dict[str, tuple[str, ...]]
) -> dict[str, tuple[str, ...] | None]:
    """Each worker in the run, and the user classes it runs: what the worker last said itself
    (``CLASSES_MESSAGE``), else Locust's view; None while it spawns its first users, () while
    it has none (a worker that joined and is ready)."""

    def classes(client) -> tuple[str, ...] | None:
        if client.id in reported:
            return reported[client.id]
        if client.user_classes_count:
            return tuple(sorted(name for name, n in client.user_classes_count.items() if n))
        return () if client.state == STATE_INIT else None

    return {c.id: classes(c) for c in runner.clients.values() if c.state in IN_THE_RUN}


def _tell_workers(environment, totals: dict[str, float]) -> None:
    """Every worker in the run gets who runs what, and every total changed since the start
    (a worker that joined has not had them)."""
    runner = environment.runner
    workers = workers_of(environment)
    workers.totals.update(totals)
    seen = workers.seen or _classes_by_worker(runner, workers.reported)
    # a worker spawned after this reads the same from the options its spawn message carries
    setattr(environment.parsed_options, CLASSES_OPTION, seen)
    message = {"classes": seen, "totals": workers.totals}
    for client_id in seen:
        runner.send_message(RESPLIT_MESSAGE, message, client_id)


@events.test_start.add_listener
def _count_workers(environment, **kwargs: Any) -> None:
    """On the master, before it sends the spawn messages that carry the options."""
    runner = environment.runner
    if isinstance(runner, MasterRunner) and environment.parsed_options is not None:
        setattr(environment.parsed_options, WORKERS_OPTION, runner.worker_count)
        setattr(environment.parsed_options, CLASSES_OPTION, None)


@join("start")
def _watch(environment, run: RunContext) -> None:
    runner = environment.runner
    workers = run.slot(Workers)
    if isinstance(runner, WorkerRunner):
        workers.watcher = gevent.spawn(_watch_own_classes, environment, workers)
        return
    if not isinstance(runner, MasterRunner):
        return
    workers.seen = _classes_by_worker(runner, workers.reported)
    _record(environment, run, workers, joined=sorted(workers.seen), left=[])
    workers.watcher = gevent.spawn(_watch_workers, environment, run, workers)


def _watch_workers(environment, run: RunContext, workers: Workers) -> None:
    while not (run.ended or run.stop_requested_at is not None):
        gevent.sleep(CHECK_S)
        _check(environment, run, workers)


def _check(environment, run: RunContext, workers: Workers) -> None:
    """Re-split if the workers in the run, or the classes they run, changed."""
    if run.ended or run.stop_requested_at is not None:
        return  # workers that have stopped leave Locust's list: not a change of the run
    runner = environment.runner
    now = _classes_by_worker(runner, workers.reported)
    if now == workers.seen or not now:
        return  # the last worker gone ends the run (Locust's rule), not a re-split
    joined, left = sorted(now.keys() - workers.seen), sorted(workers.seen.keys() - now)
    # the new view first, before anything that yields: the tick and a worker's message may
    # both be checking, and a change is one change
    _note_orphans(environment, workers, workers.seen, now)
    workers.seen = now
    _record(environment, run, workers, joined=joined, left=left)
    _tell_workers(environment, {})
    if left and runner.state == STATE_RUNNING:
        _redispatch(runner)


def _note_orphans(environment, workers: Workers, before: dict, now: dict) -> None:
    """Split rates that no worker sends since a worker left with all the users of their
    classes, until Locust starts such users on another: their slots over that gap went
    unsent, and are counted skipped (``suite.slots_skipped``) here, once. The workers that take
    over start afresh: each would owe the whole gap while it believed itself alone."""
    at = time.time()
    for name, (_, classes) in workers.rates.items():
        if _sent(before, classes) and not _sent(now, classes):
            workers.orphaned.setdefault(name, at)
        elif _sent(now, classes) and name in workers.orphaned:
            _count_gap(environment, workers, name, at)


def _sent(view: dict[str, tuple[str, ...] | None], classes: frozenset[str]) -> bool:
    """Whether a worker in ``view`` runs users of ``classes`` (one spawning: not known yet)."""
    return any(set(runs or ()) & classes for runs in view.values())


def _count_gap(environment, workers: Workers, name: str, until: float) -> None:
    since = workers.orphaned.pop(name)
    total = workers.totals.get(name, workers.rates[name][0])
    slots = int((until - since) * total)
    logger.info("obstack-load: %s: no worker sent it for %.1f s; %d slots skipped",
                name, until - since, slots)  # fmt: skip
    if slots:
        suite.slots_skipped.fire(environment=environment, name=name, slots=slots)


def _watch_own_classes(environment, workers: Workers) -> None:
    """On a worker: as soon as the classes with users here change (Locust moved users here or
    away), re-tune this worker's shares and tell the master, which re-splits the others'."""
    runner = environment.runner
    last: tuple[str, ...] = ()  # none at the start: the master's view says so already
    rates: dict[str, list] = {}
    while True:
        here = tuple(sorted(live_classes(environment)))
        if here != last:
            workers.retune(environment)
        # the master counts a rate's gaps (``_note_orphans``): it learns each rate from here
        now_rates = {name: [split.total, sorted(split.classes)]
                     for name, split in workers.splits.items()}  # fmt: skip
        if here != last or now_rates != rates:
            runner.send_message(CLASSES_MESSAGE, {"classes": here, "rates": now_rates})
            last, rates = here, now_rates
        gevent.sleep(CHECK_S)


def _redispatch(runner: MasterRunner) -> None:
    """Spread the run's users again over the workers in it, as Locust does itself when a
    worker joins or quits. Locust skips that while its dispatcher says a dispatch is in
    progress, and its dispatcher (``UsersDispatcher._dispatcher``, Locust 2.47) can return
    without clearing that flag (after a rebalance for a worker that joined): the next worker
    to quit took its users with it for the rest of the run (tested: a signal's every user
    gone, and its rate with them). A fresh dispatch,
    as Locust's own handling of a lost worker makes, puts them right; when Locust has already
    done so, it sends each worker the count it has."""
    runner._users_dispatcher = None
    runner.start(runner.target_user_count, runner.spawn_rate)


def _record(environment, run: RunContext, workers: Workers, joined: list, left: list) -> None:
    at = time.time()
    by_class: dict[str, int] = {}
    for runs in workers.seen.values():
        for name in runs or ():
            by_class[name] = by_class.get(name, 0) + 1
    workers.changes.append({
        "at": at, "after_s": round(at - run.started_at, 1), "workers": len(workers.seen),
        "joined": joined, "left": left, "workers_by_class": by_class,
    })  # fmt: skip
    suite.workers_changed.fire(environment=environment, changes=workers.changes)


@join("stop")
def _stop_watching(environment, run: RunContext) -> None:
    workers = run.get(Workers)
    if workers is None:
        return
    if workers.watcher is not None:
        workers.watcher.kill(block=False)
    if isinstance(environment.runner, MasterRunner):
        # unsent until the stop (``stop_requested_at`` is on the monotonic clock)
        stopped = time.time() - (time.monotonic() - (run.stop_requested_at or time.monotonic()))
        for name in list(workers.orphaned):
            _count_gap(environment, workers, name, stopped)


@events.test_stop.add_listener
def _worker_stops_watching(environment, **kwargs: Any) -> None:
    """Workers run no ending phases (the master ends the run)."""
    if isinstance(environment.runner, WorkerRunner):
        _stop_watching(environment, run_of(environment))


@events.init.add_listener
def _on_resplit(environment, **kwargs: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        liveness = getattr(environment.parsed_options, "worker_liveness", None)
        if liveness:
            # Locust reads it each time it hears from a worker (Locust 2.47 has no option)
            locust_runners.HEARTBEAT_LIVENESS = liveness

        def classes_reported(environment, msg, **kw) -> None:
            run = run_of(environment)
            workers = run.slot(Workers)
            workers.reported[msg.node_id] = tuple(msg.data["classes"])
            for name, (total, classes) in msg.data.get("rates", {}).items():
                known = workers.rates.get(name, (total, frozenset()))[1]
                workers.rates[name] = (total, known | frozenset(classes))
            if workers.watcher is not None:  # the run has started: re-split at once
                # in a greenlet of its own: a re-dispatch must not hold up Locust's receiver
                gevent.spawn(_check, environment, run, workers)

        runner.register_message(CLASSES_MESSAGE, classes_reported)
    if not isinstance(runner, WorkerRunner):
        return
    # a listener added now, after the runner's own, runs before it: quitting fires in reverse
    environment.events.quitting.add_listener(_hand_in_last_report)

    def resplit(environment, msg, **kw) -> None:
        setattr(environment.parsed_options, CLASSES_OPTION, msg.data["classes"])
        workers = workers_of(environment)
        workers.totals.update(msg.data["totals"])
        for name, total in msg.data["totals"].items():
            if name in workers.splits:
                workers.splits[name].total = total
        workers.retune(environment)

    runner.register_message(RESPLIT_MESSAGE, resplit)


def _hand_in_last_report(environment, **kwargs: Any) -> None:
    """A worker leaving mid-run (SIGTERM; Kubernetes scaling down) stops its users and so sends
    the master what they did since its last report (``endings._final_report``), before Locust
    tells the master it quits: Locust itself sends no report on the way out, and up to 3 s of
    the worker's requests, iterations and ingested items went missing from the run's totals."""
    runner = environment.runner
    if runner.user_count:
        runner.stop()  # its users finish, within --stop-timeout; then it reports, marked final


def summary_lines(changes: list[dict[str, Any]]) -> list[str]:
    """``workers: 2 at the start; 3 from 10.2 s (1 joined); 2 from 20.5 s (1 left)``."""
    moves = [c for c in changes[1:] if c["joined"] or c["left"]]
    if not moves:
        return []
    steps = [f"{changes[0]['workers']} at the start"]
    for change in moves:
        moved = [f"{len(change[k])} {k}" for k in ("joined", "left") if change[k]]
        steps.append(f"{change['workers']} from {change['after_s']} s ({', '.join(moved)})")
    return [
        f"  workers: {'; '.join(steps)}; open-model rates re-split {len(changes) - 1} times "
        "(as workers and their users changed)"
    ]


@suite.summary_assembling.add_listener
def _summary(environment, summary: dict, lines: list[str], **kwargs: Any) -> None:
    workers = run_of(environment).get(Workers)
    if workers is None or not workers.changes:
        return
    summary["workers"] = workers.changes
    lines.extend(summary_lines(workers.changes))

"""Open-model load: a target arrival rate of iterations/s that holds whatever the latency.

Locust's users are a closed model: a slow server makes them send less, hiding its own stall
("coordinated omission"). With ``--arrival-rate R`` our users instead take start times from one
schedule, ``R`` per second, as k6's constant-arrival-rate executor does, with ``--users`` as the
pool of virtual users. An iteration that starts more than 10 ms after its slot is *late*; one
more than ``--arrival-max-lag`` behind is *dropped* (skipped), and both are counted: they show
the generator or the target could not keep up. Each request's latency is also measured from its
iteration's *scheduled* start, as wrk2 does, and reported beside the raw latency.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import gevent
from locust import events
from locust import stats as locust_stats

from obstack_load.core import histogram
from obstack_load.run import workers
from obstack_load.run.context import RunContext, run_of
from obstack_load.run.endings import join
from obstack_load.run.events import suite
from obstack_load.run.options import add_option

LATE_AFTER_S = 0.010
HOLD_S = 0.5  # a new rate holds within this; sleepers for a later slot wake this often
REPORT_KEY = "obstack_arrival"
SPLIT_NAME = "arrival"  # the rate's name among the run's split rates (``run.workers``)
LISTENER_ATTRIBUTE = "obstack_arrival_listener"  # the Environment's: the request listener on


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:
    add_option(
        parser,
        "--arrival-rate",
        type=float,
        default=0.0,
        help="open model: iterations/s in total (0 = closed model, the default)",
    )
    add_option(
        parser,
        "--arrival-max-lag",
        type=float,
        default=1.0,
        help="seconds behind schedule before an iteration is dropped (default 1)",
    )


class Schedule:
    """Slots at ``rate`` per second from ``start``; plain arithmetic, no clock of its own.

    A slot is handed out when a user asks for its next one, which may be ahead of time (an idle
    user sleeps until it). A new rate (``retune``) starts a new generation no later than
    ``HOLD_S`` from now: the slots the old one handed out before that stay (the users holding
    them are already asleep), those after it are void (``honoured``), and their users take a
    slot of the new rate. So a change holds within ``HOLD_S`` whatever the pool's size, and is
    never a burst of both rates at once."""

    def __init__(self) -> None:
        self.rate = 0.0
        self.max_lag = 1.0
        self.start = 0.0
        self.issued = 0
        self.generation = 0
        self.unclaimed = 0  # slots a re-tune dropped, counted by the next ``take``
        self.boundaries: list[float] = []  # [g]: when generation g + 1 began

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def configure(self, rate: float, max_lag: float, start: float) -> None:
        self.rate, self.max_lag, self.start, self.issued = rate, max_lag, start, 0

    def retune(self, rate: float, now: float, backlog: bool = True) -> float:
        """A new rate from the next free slot, or ``HOLD_S`` from now if that is sooner; returns
        when it holds. A schedule that is behind keeps its backlog, up to ``max_lag`` (older slots
        are dropped, and counted as ``take`` counts them), unless
        ``backlog`` is False: its slots had no user to run them (a rate of 0 here, the first
        user of its kind), so none was late and none is counted skipped. A rate of 0 offers
        no slot until the next retune (``wait_for_slot`` waits)."""
        following = self.start + self.issued / self.rate if self.rate > 0 else now
        kept_from = now - self.max_lag if backlog else now
        if backlog and rate > 0 and following < kept_from:
            # owed and never taken, no user being free: dropped, and counted (a share going to
            # 0 is users that left this process: what they owed is the move's gap, not a drop)
            self.unclaimed += int((kept_from - following) * self.rate)
        start = max(min(following, now + HOLD_S), kept_from)
        self.boundaries.append(start)
        self.generation += 1
        self.rate, self.start, self.issued = rate, start, 0
        return start

    def honoured(self, slot: float, generation: int) -> bool:
        """Whether a slot handed out in ``generation`` still stands."""
        return generation == self.generation or slot < self.boundaries[generation]

    def take(self, now: float) -> tuple[float, int]:
        """The next slot's start time, and how many slots were dropped to reach it."""
        dropped, self.unclaimed = self.unclaimed, 0
        while True:
            slot = self.start + self.issued / self.rate
            self.issued += 1
            if now - slot <= self.max_lag:
                return slot, dropped
            dropped += 1


def wait_for_slot(schedule: Schedule) -> tuple[float, int, bool]:
    """Take this process's next slot, waiting while it is more than ``HOLD_S`` away: the slot,
    the slots dropped to reach it, and whether it was late when taken. The caller sleeps the
    last stretch (Locust's own sleep after ``wait_time``: one sleep, no extra yield before the
    task). A slot that a new rate voids meanwhile is given up for one of the new rate; a slot
    within ``HOLD_S`` always stands. A sleeper far ahead wakes every ``HOLD_S`` to see (waking
    every sleeper at a change instead would cost each wait an unlink from a list of all)."""
    dropped = 0
    while True:
        if not schedule.enabled:  # this process's share is 0 until the master says otherwise
            gevent.sleep(HOLD_S)
            continue
        now = time.time()
        generation = schedule.generation
        slot, skipped = schedule.take(now)
        dropped += skipped
        late = now - slot > LATE_AFTER_S
        while slot - now > HOLD_S and schedule.honoured(slot, generation):
            gevent.sleep(min(slot - now - HOLD_S, HOLD_S))
            now = time.time()
        if schedule.honoured(slot, generation):
            return slot, dropped, late


class ArrivalStats:
    """Iterations, late and dropped counts, and corrected latencies; mergeable across workers."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.iterations = self.late = self.dropped = 0
        self.corrected: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))

    def ship(self) -> dict[str, Any]:
        data = {
            "iterations": self.iterations,
            "late": self.late,
            "dropped": self.dropped,
            "corrected": {name: list(h.items()) for name, h in self.corrected.items()},
        }
        self.reset()
        return data

    def merge(self, data: dict[str, Any]) -> None:
        self.iterations += data["iterations"]
        self.late += data["late"]
        self.dropped += data["dropped"]
        for name, shipped in data["corrected"].items():
            histogram.add(self.corrected[name], shipped)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "iterations": self.iterations,
            "late_iterations": self.late,
            "dropped_iterations": self.dropped,
        }
        shown = (0.5, 0.95, 0.99)
        total, _ = histogram.merged(self.corrected.values())
        out["corrected_total"] = histogram.percentiles(total, shown)
        out["corrected_by_name"] = {
            name: histogram.percentiles(h, shown) for name, h in sorted(self.corrected.items())
        }
        return out


class Arrival:
    """A run's open model (in its ``RunContext``): the schedule its users take slots from,
    this process's counts (workers ship theirs away) and, on the master, the run's totals."""

    def __init__(self) -> None:
        self.schedule = Schedule()
        self.open_model = False  # --arrival-rate given (this process's share may still be 0)
        self.stats = ArrivalStats()
        self.totals = ArrivalStats()

    def on_request(self, name: str, context: dict | None = None, **kwargs: Any) -> None:
        """Latency from the iteration's scheduled start (a request listener in open runs)."""
        scheduled = context.get("obstack_scheduled") if context else None
        if scheduled is not None:
            corrected_ms = (time.time() - scheduled) * 1000
            self.stats.corrected[name][locust_stats.bucket_response_time(corrected_ms)] += 1

    def summary(self) -> dict[str, Any] | None:
        """The run's arrival figures (master/standalone), or None when closed model."""
        if not self.open_model and not self.totals.iterations and not self.stats.iterations:
            return None
        self.totals.merge(self.stats.ship())  # the local process's own share (standalone)
        return self.totals.summary()


def arrival_of(environment) -> Arrival:
    return run_of(environment).slot(Arrival)


def wait_time(fallback: Callable[[Any], float]) -> Callable[[Any], float]:
    """A Locust ``wait_time`` that follows the arrival schedule when one is set, else ``fallback``."""

    def wait(user) -> float:
        arrival = arrival_of(user.environment)
        if not arrival.open_model:
            return fallback(user)
        slot, dropped, late = wait_for_slot(arrival.schedule)
        arrival.stats.dropped += dropped
        # counted when its first request goes (``context``): a user stopped here, in Locust's
        # own yield after this returns, never runs it
        user.obstack_scheduled, user.obstack_late, user.obstack_started = slot, late, False
        return max(0.0, slot - time.time())

    return wait


def start_on_schedule(user) -> None:
    """Wait for this user's first slot; called at the end of its ``on_start``.

    Locust runs a user's first task as soon as it is spawned, and calls ``wait_time`` only
    after each task, so without this every user's first iteration started at spawn: with
    ``-u 200 -r 200`` a burst of 200 iterations off the schedule (issue 27: 288 requests in the
    first second of a 250/s run, and a p95 fifty times a ``-u 20`` run's). Here the first
    iteration takes a slot like every other, at spawn and whenever users are added later, so
    the pool size bounds only how many iterations are in flight (k6's constant-arrival-rate
    executor starts its first iteration on the schedule too). Closed-model runs are unchanged.
    """
    environment = user.environment
    if enabled(environment):
        total = environment.parsed_options.arrival_rate
        schedule = arrival_of(environment).schedule
        workers.workers_of(environment).split(environment, SPLIT_NAME, total, schedule, user)
        gevent.sleep(user.wait_time())


def enabled(environment) -> bool:
    return arrival_of(environment).open_model


def context(user) -> dict[str, Any]:
    """Request context for a user's requests: the scheduled start of its current iteration,
    which its first request counts as run (on time or late)."""
    scheduled = getattr(user, "obstack_scheduled", None)
    if scheduled is None or not enabled(user.environment):
        return {}
    if not user.obstack_started:
        user.obstack_started = True
        stats = arrival_of(user.environment).stats
        stats.iterations += 1
        stats.late += user.obstack_late
    return {"obstack_scheduled": scheduled}


@join("start")
def start(environment, run: RunContext) -> None:
    options = environment.parsed_options
    arrival = run.slot(Arrival)
    total = getattr(options, "arrival_rate", 0.0) or 0.0
    rate = workers.process_share(environment, total)
    arrival.schedule.configure(rate, getattr(options, "arrival_max_lag", 1.0), time.time())
    arrival.open_model = total > 0

    # Listen to requests only in open-model runs: a listener costs every request of every run.
    listening = getattr(environment, LISTENER_ATTRIBUTE, None)
    if listening is not None:
        environment.events.request.remove_listener(listening)
        setattr(environment, LISTENER_ATTRIBUTE, None)
    if arrival.open_model:
        environment.events.request.add_listener(arrival.on_request)
        setattr(environment, LISTENER_ATTRIBUTE, arrival.on_request)


@events.init.add_listener
def _wire(environment, **kwargs: Any) -> None:
    """Workers ship the counts of the run they are in; the master adds them to its run's."""

    def ship(client_id: str, data: dict) -> None:
        data[REPORT_KEY] = arrival_of(environment).stats.ship()

    def merge(client_id: str, data: dict) -> None:
        if REPORT_KEY in data:
            arrival_of(environment).totals.merge(data[REPORT_KEY])

    environment.events.report_to_master.add_listener(ship)
    environment.events.worker_report.add_listener(merge)


def summary_lines(figures: dict[str, Any]) -> list[str]:
    corrected = figures["corrected_total"]
    return [
        f"  arrival-rate: {figures['iterations']} iterations, {figures['late_iterations']} late, "
        f"{figures['dropped_iterations']} dropped; corrected for coordinated omission: "
        f"p50 {corrected['p50_ms']} ms, p95 {corrected['p95_ms']} ms, p99 {corrected['p99_ms']} ms"
    ]


@suite.slots_skipped.add_listener
def _skipped(environment, name: str, slots: int, **kwargs: Any) -> None:
    """Slots of the arrival rate that no worker sent (its users were between workers)."""
    if name == SPLIT_NAME:
        arrival_of(environment).totals.dropped += slots


@suite.summary_assembling.add_listener
def _summary(environment, summary: dict, lines: list[str], **kwargs: Any) -> None:
    summary["arrival"] = arrival_of(environment).summary()
    if summary["arrival"]:
        lines.extend(summary_lines(summary["arrival"]))

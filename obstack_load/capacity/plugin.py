"""``--capacity-search``: a run that finds the highest arrival rate at which every SLO holds.

Load it from a locustfile (``import obstack_load.capacity.plugin``) or run
``obstack-load capacity``. The run is an open model (``--arrival-rate``): a greenlet on the
master (or the standalone process) sets the offered rate step by step, as ``search.RateSearch``
plans, tells the workers their share, measures each step's window (``window``), and ends the run
when the search is over. Each step settles first (``--capacity-settle``) and is then held
(``--capacity-step-time``); a passing step whose latency was still rising is held once more, and
fails if it is still rising, since a queue that keeps growing means the rate is above capacity.

The steps and the finding go into the summary (``capacity``), the results database
(``capacity_steps``, ``capacity_findings``) and an HTML report with the latency curve.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import gevent
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from obstack_load.capacity.search import RateSearch
from obstack_load.capacity.verdict import Step, find
from obstack_load.figures import window
from obstack_load.figures.seam import source_of
from obstack_load.results.schema import CAPACITY_FINDINGS, CAPACITY_STEPS
from obstack_load.run import arrival, workers
from obstack_load.run.context import RunContext, run_of
from obstack_load.run.endings import join, plugin_failed
from obstack_load.run.events import suite
from obstack_load.run.options import add_option, validator

logger = logging.getLogger("obstack_load.capacity")
SLO_METRICS = ("p", "avg", "med", "max", "rate")
DELIVERED = 0.9  # requests sent over the offered rate, below which a step cannot pass
UNSETTLED_GROWTH = 1.25  # the second half's p95 over the first's, above which it is rising
UNSETTLED_FLOOR_MS = 5.0  # and by at least this much: a few ms either way is noise
# ... and by more than a queue past the capacity by this share would grow in half a step. An
# open-model target overloaded by a share e of the rate queues e of every second's arrivals:
# its wait grows by about e x the elapsed time, so between the halves' p95s by e x half a step.
# Below half the search's precision (5%) the overload is under what bisection resolves; and a
# rise smaller than that is what a busy machine's hiccups make of a target that keeps up
# (CI judged nginx rising at 150 r/s under a 160 r/s cap it answers at once, without a queue).
UNSETTLED_OVERLOAD = 0.025
DRAIN_MAX_S = 30.0  # the longest wait for a target to work off an overloaded step's backlog
DRAINED_GROWTH = 2.0  # drained: the raw p95 within twice the lightest step's ...
DRAINED_FLOOR_MS = 10.0  # ... or within this much of it, whichever is the more lenient


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    add_option(parser, "--capacity-search", "search for the highest rate that meets every "
               "--capacity-slo (open model; ends the run when done)", action="store_true",
               default=False)  # fmt: skip
    add_option(parser, "--capacity-slo", "an SLO the capacity must meet, as a threshold "
               "expression: p(95)<500, avg<200, rate<0.01 (repeatable)", action="append",
               default=[])  # fmt: skip
    add_option(parser, "--capacity-start", "first offered rate, iterations/s", type=float,
               default=50.0)  # fmt: skip
    add_option(parser, "--capacity-max", "highest offered rate, iterations/s", type=float,
               default=20_000.0)  # fmt: skip
    add_option(parser, "--capacity-step-time", "seconds each step is measured", type=float,
               default=20.0)  # fmt: skip
    add_option(parser, "--capacity-settle", "seconds each step runs before it is measured",
               type=float, default=5.0)  # fmt: skip
    add_option(parser, "--capacity-precision", "stop when the bracket is within this fraction",
               type=float, default=0.05)  # fmt: skip
    add_option(parser, "--capacity-report", "the HTML report's path",
               default="results/capacity.html")  # fmt: skip


def parse_slos(expressions: list[str]) -> list:
    from obstack_load.thresholds.expressions import parse

    slos = []
    for expression in expressions:
        parsed = parse(expression)  # a ThresholdError (a ValueError) names what is wrong
        if parsed.metric not in SLO_METRICS:
            raise ValueError(f"{expression!r}: an SLO is one of p(N), avg, med, max or rate")
        slos.append(parsed)
    return slos


@validator
def _check(options: Any) -> None:
    from obstack_load.core.config import ConfigError

    if not getattr(options, "capacity_search", False):
        return
    if not options.capacity_slo:
        raise ConfigError("--capacity-slo", "", "a capacity search needs at least one SLO")
    try:
        parse_slos(options.capacity_slo)
        RateSearch(float(options.capacity_start), float(options.capacity_max))
    except ValueError as exc:
        raise ConfigError("--capacity-slo", "", str(exc)) from None
    if float(options.capacity_step_time) < 2 or float(options.capacity_settle) < 0:
        raise ConfigError("--capacity-step-time", "", "must be at least 2 s (settle at least 0)")


class CapacitySearch:
    def __init__(self) -> None:
        self.worker_cpu: dict[str, tuple[float, float]] = {}
        self.steps: list[Step] = []
        self.search: RateSearch | None = None
        self.greenlet: gevent.Greenlet | None = None
        self.failure: str | None = None  # why the search failed, when it did
        self.last: dict[str, Any] | None = None

    # ---- the offered rate, everywhere -----------------------------------------------------

    @staticmethod
    def set_rate(environment, rate: float) -> None:
        """Every worker's share of ``rate`` holds within ``arrival.HOLD_S``: the settle time
        covers it."""
        workers.set_total(environment, arrival.SPLIT_NAME, rate)

    # ---- the search -----------------------------------------------------------------------

    def start(self, environment) -> None:
        options = environment.parsed_options
        self.steps, self.last = [], None
        self.search = RateSearch(
            float(options.capacity_start), float(options.capacity_max),
            precision=float(options.capacity_precision),
        )  # fmt: skip
        self.greenlet = gevent.spawn(self.run, environment)

    def run(self, environment) -> None:
        options = environment.parsed_options
        slos = parse_slos(options.capacity_slo)
        source = source_of(environment)
        settle = float(options.capacity_settle)
        if isinstance(environment.runner, MasterRunner):
            # the master sees the workers' requests only when they report, every few seconds:
            # the window must begin after the first report made at the new rate
            from locust.runners import WORKER_REPORT_INTERVAL

            settle = max(settle, WORKER_REPORT_INTERVAL + 1.0)
        # a new rate holds within HOLD_S: the slots handed out before it are worked off first
        settle = max(settle, arrival.HOLD_S)
        window_s = settle if isinstance(environment.runner, MasterRunner) else 1.0
        try:
            while (rate := self.search.next_rate()) is not None:  # type: ignore[union-attr]
                self.set_rate(environment, rate)
                gevent.sleep(settle)
                step = self.measure(environment, rate, slos, source)
                self.steps.append(step)
                self.search.record(rate, step.passed)  # type: ignore[union-attr]
                logger.info(
                    "capacity: %.0f/s offered, %.0f/s achieved, p95 %s ms: %s", rate,
                    step.achieved_rps, step.p95_ms, "held" if step.passed else "broke",
                )  # fmt: skip
                if not step.passed and self.search.next_rate() is not None:  # type: ignore[union-attr]
                    step.drain_s = self.drain(environment, window_s)
        except Exception as exc:
            logger.exception("capacity search failed")
            self.failure = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]
            plugin_failed(run_of(environment), "capacity search", exc)
        finally:  # the finding is made once, at the end of the run (``result``)
            if environment.runner is not None:
                environment.runner.quit()

    def drain(self, environment, window_s: float) -> float | None:
        """After an overloaded step, let the target work off its backlog before the next step
        is measured: a target whose limit is a queue keeps the requests it could not serve, and
        the next step would inherit them and break at a rate the target holds. Offer the
        lightest step's rate until a window's raw p95 is back near that step's, at most
        ``DRAIN_MAX_S``; the seconds it took, or None (said in the log) when it did not."""
        lightest = min(self.steps, key=lambda s: s.offered_rate)
        baseline = lightest.raw_p95_ms
        if baseline is None or lightest is self.steps[-1]:
            return 0.0
        self.set_rate(environment, lightest.offered_rate)
        began = time.monotonic()
        before = window.take(environment, {}, None)
        while time.monotonic() - began < DRAIN_MAX_S:
            gevent.sleep(window_s)
            after = window.take(environment, {}, None)
            total = window.window_stats(before, after, corrected=False).total
            before = after
            if total.num_requests and total.get_response_time_percentile(0.95) <= max(
                baseline * DRAINED_GROWTH, baseline + DRAINED_FLOOR_MS
            ):
                return round(time.monotonic() - began, 1)
        logger.warning(
            "capacity: the target did not drain within %.0f s of the step at %.0f/s; the next "
            "step may inherit its backlog", DRAIN_MAX_S, self.steps[-1].offered_rate,
        )  # fmt: skip
        return None

    def measure(self, environment, rate: float, slos: list, source) -> Step:
        from obstack_load.core.ledger import IngestLedger
        from obstack_load.thresholds.evaluate import observe

        hold = float(environment.parsed_options.capacity_step_time)
        begin = window.take(environment, self.worker_cpu, source)
        gevent.sleep(hold / 2)
        middle = window.take(environment, self.worker_cpu, source)
        gevent.sleep(hold / 2)
        end = window.take(environment, self.worker_cpu, source)
        first_half, second_half = (
            window.window_stats(begin, middle),
            window.window_stats(middle, end),
        )
        growing = rising(first_half.total, second_half.total, hold / 2)
        if growing:  # hold once more, and judge the later half of it
            begin, middle = middle, end
            gevent.sleep(hold / 2)
            end = window.take(environment, self.worker_cpu, source)
            growing = rising(window.window_stats(begin, middle).total,
                             window.window_stats(middle, end).total, hold / 2)  # fmt: skip
            begin = middle
        stats = window.window_stats(begin, end)
        seconds = end.at - begin.at
        results = []
        for slo in slos:
            observed, detail = observe(slo, stats, IngestLedger(), seconds)
            level = slo.level(observed)
            results.append({"expression": slo.expression, "metric": slo.metric,
                            "observed": observed, "passed": level != "fail", "detail": detail})  # fmt: skip
        total = stats.total
        # a step whose offered rate never reached the target says nothing of the target; an
        # iteration may be several requests, and other users' requests count in the stats, so
        # this compares the iterations the schedule ran with those it offered
        iterations = (end.iterations - begin.iterations) / seconds
        delivered = iterations / rate if rate else 0.0
        results.append({"expression": f"delivered>={DELIVERED:.0%}", "metric": "delivered",
                        "observed": delivered, "passed": delivered >= DELIVERED, "detail": ""})  # fmt: skip
        p95 = float(total.get_response_time_percentile(0.95)) if total.num_requests else None
        raw = window.window_stats(begin, end, corrected=False).total
        raw_p95 = float(raw.get_response_time_percentile(0.95)) if raw.num_requests else None
        raw_p50 = float(raw.get_response_time_percentile(0.5)) if raw.num_requests else None
        return Step(
            offered_rate=rate, achieved_rps=total.num_requests / seconds, seconds=seconds,
            iterations_per_s=iterations,
            requests=total.num_requests, failures=total.num_failures, p95_ms=p95,
            raw_p95_ms=raw_p95, raw_p50_ms=raw_p50,
            passed=all(r["passed"] for r in results) and not growing and total.num_requests > 0,
            settled=not growing, slo_results=results,
            endpoints_p95_ms={e.name: float(e.get_response_time_percentile(0.95))
                              for e in stats.entries.values() if e.num_requests},
            generator_cpu=window.generator_cpu(begin, end),
            late_ratio=window.late_ratio(begin, end),
            **window.target_usage(begin, middle, end),
        )  # fmt: skip


def rising(first, second, half_s: float) -> bool:
    """Whether the p95 grew from the ``first`` half of a step to the ``second`` (Locust
    ``StatsEntry``s, ``half_s`` seconds each) as a queue past the capacity grows it."""
    if not first.num_requests or not second.num_requests:
        return False
    before = first.get_response_time_percentile(0.95)
    after = second.get_response_time_percentile(0.95)
    floor_ms = max(UNSETTLED_FLOOR_MS, UNSETTLED_OVERLOAD * half_s * 1000)
    return after > before * UNSETTLED_GROWTH and after - before > floor_ms


def capacity_of(environment) -> CapacitySearch:
    """This run's search (one per run, in its ``RunContext``)."""
    return run_of(environment).slot(CapacitySearch)


@events.init.add_listener
def _init(environment, **kwargs: Any) -> None:
    options = environment.parsed_options
    if options is None:
        return
    if getattr(options, "capacity_search", False) and not getattr(options, "arrival_rate", 0):
        options.arrival_rate = float(options.capacity_start)  # the search is an open model

    def worker_cpu(client_id: str, data: dict) -> None:
        if window.CPU_REPORT_KEY in data:
            reading = (time.monotonic(), data[window.CPU_REPORT_KEY])
            capacity_of(environment).worker_cpu[client_id] = reading

    environment.events.worker_report.add_listener(worker_cpu)


@join("start")
def start(environment, run: RunContext) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    if getattr(environment.parsed_options, "capacity_search", False):
        run.slot(CapacitySearch).start(environment)


@join("stop")
def stop(environment, run: RunContext) -> None:
    """The run ended: the finding is made of the steps measured (Ctrl-C, a time limit)."""
    if getattr(environment.parsed_options, "capacity_search", False):
        result(environment)


@events.report_to_master.add_listener
def _report_cpu(client_id: str, data: dict) -> None:
    data[window.CPU_REPORT_KEY] = window.cpu_seconds()


def result(environment) -> dict[str, Any]:
    """The search's steps and finding, once; the run may have ended before the search did
    (Ctrl-C, a time limit), and then the finding is made of the steps measured."""
    capacity = capacity_of(environment)
    if capacity.last is None:
        if capacity.greenlet is not None and not capacity.greenlet.dead:
            capacity.greenlet.kill()
        search = capacity.search
        finding = find(
            capacity.steps, search.outcome if search else "below-floor",
            search.passed if search else None, search.failed if search else None,
        )  # fmt: skip
        if capacity.failure is not None:  # a failed search claims no capacity at all
            finding = dataclasses.replace(
                finding, capacity=None, upper=None, outcome="failed", limit="none", knee=None,
                words=[f"the capacity search failed ({capacity.failure}); no capacity is claimed"],
            )  # fmt: skip
        capacity.last = {
            "finding": finding.as_dict(), "steps": [s.as_dict() for s in capacity.steps],
            "slos": list(environment.parsed_options.capacity_slo),
        }  # fmt: skip
    return capacity.last


@suite.rows_recording.add_listener
def _rows(environment, run_id: str, rows: dict, **kwargs: Any) -> None:
    """The search's steps and finding, with the run they belong to."""
    if not getattr(environment.parsed_options, "capacity_search", False):
        return
    capacity = result(environment)
    finding = capacity["finding"]
    rows[CAPACITY_STEPS] = [
        (
            run_id, index, s["offered_rate"], s["achieved_rps"], s["seconds"], s["requests"],
            s["failures"], s["p95_ms"], s["passed"], s["settled"], s["generator_cpu"],
            s["late_ratio"], s["target_cpu"], s["pool_utilization"], s["generator_bound"],
            {"slo_results": s["slo_results"], "endpoints_p95_ms": s["endpoints_p95_ms"],
             "throttled": s["throttled"], "drain_s": s["drain_s"],
             "target_memory_bytes": s["target_memory_bytes"], "pool_waiting": s["pool_waiting"]},
        )
        for index, s in enumerate(capacity["steps"])
    ]  # fmt: skip
    rows[CAPACITY_FINDINGS] = [(
        run_id, finding["capacity"], finding["upper"], finding["outcome"], finding["limit"],
        finding["generator_bound"], finding["knee"], capacity["slos"], " ".join(finding["words"]),
    )]  # fmt: skip


@suite.summary_assembling.add_listener
def _summary(environment, summary: dict, lines: list[str], **kwargs: Any) -> None:
    if not getattr(environment.parsed_options, "capacity_search", False):
        return
    summary["capacity"] = result(environment)
    lines.append("  capacity: " + " ".join(summary["capacity"]["finding"]["words"]))
    path = environment.parsed_options.capacity_report
    if path:
        from obstack_load.capacity.report import write_report

        write_report(path, summary["capacity"], environment.host or "")
        lines.append(f"  capacity report: {path}")

"""``--monitor``: a health monitor that runs beside any run, and says when the target was down
and how long it took to come back.

Every ``--monitor-interval`` seconds (1) the master or standalone process probes the target:

- ``healthz``: ``GET /healthz`` answers 2xx;
- ``readyz``: ``GET /readyz`` answers 2xx;
- ``e2e``: one log record with a fresh marker is ingested (OTLP, the first tenant's key) and
  read back through the API (``/api/v1/logs/search``), the synthetic check a user would notice;
- and, with ``--monitor-series NAME``, a target figure (``cpu_seconds``, ``memory_bytes``,
  ``db_pool_in_use``, ``write_queue_depth``...: ``figures/target.py``) read through the run's
  source of target figures (the user's ``--prometheus``, else the target's /metrics), or any
  other series of the target's own ``/metrics``, summed over its labels.

Each probe has a timeout (``--monitor-timeout``, 1 s) and turns unhealthy after
``--monitor-failure-threshold`` (3) failures in a row and healthy again after
``--monitor-success-threshold`` (1) successes, as Chaos Mesh's StatusCheck counts. The samples
go into the results database (``monitor_samples``), the unhealthy periods into the summary, and
thresholds gate on them: ``monitor_unhealthy_s{probe=readyz}<5`` (seconds unhealthy) and
``monitor_recovery_s{probe=e2e}<30`` (the longest unhealthy period).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import gevent
import requests
from gevent.pool import Group
from locust import events
from locust.runners import WorkerRunner

from obstack_load.core.config import ConfigError
from obstack_load.monitor.checks import HealthChecks, ProbePaths
from obstack_load.results.schema import MONITOR_SAMPLES
from obstack_load.run.context import RunContext, run_of
from obstack_load.run.endings import join, watch
from obstack_load.run.events import suite
from obstack_load.run.options import add_option, validator

logger = logging.getLogger("obstack_load.monitor")
PROBES = ("healthz", "readyz", "e2e")


@dataclass
class ProbeState:
    name: str
    failure_threshold: int
    success_threshold: int
    healthy: bool = True
    failures_in_row: int = 0
    successes_in_row: int = 0
    failing_since: float = 0.0  # when the current run of failures began
    samples: list[tuple[float, bool, float, str, bool]] = field(
        default_factory=list
    )  # and healthy after
    periods: list[list[float | None]] = field(default_factory=list)  # [became unhealthy, healthy]

    def record(self, at: float, ok: bool, latency_ms: float, detail: str) -> None:
        if ok:
            self.failures_in_row, self.successes_in_row = 0, self.successes_in_row + 1
            if not self.healthy and self.successes_in_row >= self.success_threshold:
                self.healthy = True
                self.periods[-1][1] = at
        else:
            if self.failures_in_row == 0:
                self.failing_since = at
            self.successes_in_row, self.failures_in_row = 0, self.failures_in_row + 1
            if self.healthy and self.failures_in_row >= self.failure_threshold:
                self.healthy = False
                # the outage began at the first failure of the run of failures that tripped it
                self.periods.append([self.failing_since, None])
        self.samples.append((at, ok, latency_ms, detail, self.healthy))

    def summary(self, ended_at: float) -> dict[str, Any]:
        spans = [(start, end if end is not None else ended_at) for start, end in self.periods]
        return {
            "samples": len(self.samples),
            "failures": sum(1 for s in self.samples if not s[1]),
            "unhealthy_periods": [
                {"start": start, "end": end, "seconds": (end or ended_at) - start}
                for start, end in self.periods
            ],
            "unhealthy_s": sum(end - start for start, end in spans),
            "longest_unhealthy_s": max((end - start for start, end in spans), default=0.0),
            "healthy_at_end": self.healthy,
        }


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    add_option(parser, "--monitor", "probe the target's health every interval during the run",
               action="store_true", default=False)  # fmt: skip
    add_option(parser, "--monitor-interval", "seconds between probes", type=float, default=1.0)
    add_option(parser, "--monitor-timeout", "seconds a probe may take", type=float, default=1.0)
    add_option(parser, "--monitor-failure-threshold", "failures in a row that make a probe "
               "unhealthy", type=int, default=3)  # fmt: skip
    add_option(parser, "--monitor-success-threshold", "successes in a row that make it healthy "
               "again", type=int, default=1)  # fmt: skip
    add_option(parser, "--monitor-probes", "the probes to run, comma-separated, of "
               f"{', '.join(PROBES)} (default all; e2e needs the platform's API contract)",
               default=",".join(PROBES))  # fmt: skip
    add_option(parser, "--monitor-healthz-path", "the liveness URL's path (default /healthz)",
               default=ProbePaths.healthz)  # fmt: skip
    add_option(parser, "--monitor-readyz-path", "the readiness URL's path (default /readyz)",
               default=ProbePaths.readyz)  # fmt: skip
    add_option(parser, "--monitor-search-path", "the e2e probe's read-back path (default "
               f"{ProbePaths.search}; it ingests at --otlp-logs-path)",
               default=ProbePaths.search)  # fmt: skip
    add_option(parser, "--monitor-series", "a target figure to record every interval (e.g. "
               "memory_bytes, db_pool_in_use, write_queue_depth; read from --prometheus when "
               "given), or any series of the target's /metrics, summed over its labels "
               "(repeatable)", action="append", default=[])  # fmt: skip


def chosen_probes(options: Any) -> list[str]:
    """``--monitor-probes`` as a list, or a one-line error naming the option."""
    names = [n.strip() for n in str(getattr(options, "monitor_probes", "") or "").split(",")]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in PROBES]
    if unknown or not names:
        raise ConfigError("--monitor-probes", "", f"{','.join(unknown) or 'nothing'}: give "
                          f"one or more of {', '.join(PROBES)}")  # fmt: skip
    return names


def probe_paths(options: Any) -> ProbePaths:
    return ProbePaths(
        healthz=getattr(options, "monitor_healthz_path", None) or ProbePaths.healthz,
        readyz=getattr(options, "monitor_readyz_path", None) or ProbePaths.readyz,
        ingest=getattr(options, "otlp_logs_path", None) or ProbePaths.ingest,
        search=getattr(options, "monitor_search_path", None) or ProbePaths.search,
    )


@validator
def _check(options: Any) -> None:
    if getattr(options, "monitor", False) or getattr(options, "chaos_experiment", ""):
        chosen_probes(options)


class Monitor:
    def __init__(self) -> None:
        self.states: dict[str, ProbeState] = {}
        self.greenlet: gevent.Greenlet | None = None
        self.probes = Group()  # the probes of the tick under way
        self.started_at = 0.0
        self.checks = HealthChecks()
        self.series: dict[str, list[tuple[float, float]]] = {}  # --monitor-series: (when, value)

    def start(self, environment) -> None:
        if self.greenlet is not None:  # started already (a chaos experiment turns it on)
            return
        options = environment.parsed_options
        self.states = {
            name: ProbeState(
                name, options.monitor_failure_threshold, options.monitor_success_threshold
            )  # fmt: skip
            for name in chosen_probes(options)
        }
        self.started_at = time.time()
        self.checks = HealthChecks(probe_paths(options))
        self.series = {name: [] for name in options.monitor_series or []}
        self.greenlet = watch(run_of(environment), "monitor", gevent.spawn(self.run, environment))

    def stop(self) -> None:
        """No probe outlives the run: one in flight is cut off, not recorded after its end."""
        if self.greenlet is not None:
            self.greenlet.kill(block=True, timeout=5)
            self.probes.kill(block=True, timeout=5)
            self.greenlet = None

    def run(self, environment) -> None:
        from obstack_load.core.tenants import population

        options = environment.parsed_options
        tenant = population(getattr(options, "tenants_file", None)).tenants[0]
        session = requests.Session()
        interval, timeout = float(options.monitor_interval), float(options.monitor_timeout)
        next_at = time.monotonic()
        while True:  # the probes of one tick run side by side, each within its timeout
            for name in self.states:
                self.probes.spawn(self.probe, name, session, environment.host, tenant, timeout)
            if self.series:
                self.probes.spawn(self.read_series, environment, tenant, timeout)
            self.probes.join()
            next_at = max(next_at + interval, time.monotonic())
            gevent.sleep(next_at - time.monotonic())

    def probe(self, name: str, session, host: str, tenant, timeout: float) -> None:
        """One probe, recorded at the time its answer came: when its outcome was known."""
        started = time.perf_counter()
        try:
            detail = getattr(self.checks, name)(session, host, tenant, timeout)
        except requests.RequestException as exc:
            detail = type(exc).__name__
        latency_ms = (time.perf_counter() - started) * 1000
        self.states[name].record(time.time(), detail == "", latency_ms, detail)

    def read_series(self, environment, tenant, timeout: float) -> None:
        """The selected series now: target figures through the run's source, other names from
        the target's /metrics, each summed over its labels."""
        from obstack_load.figures.seam import source_of
        from obstack_load.figures.target import FIGURES, scrape

        figures = tuple(name for name in self.series if name in FIGURES)
        others = [name for name in self.series if name not in FIGURES]
        values: dict[str, float] = {}
        source = source_of(environment) if figures else None
        if source is not None:
            values.update(source.read(figures).values)
        if others and environment.host:
            samples = scrape(environment.host, tenant.api_key, timeout) or []
            for name in others:
                found = [s.value for s in samples if s.name == name]
                if found:
                    values[name] = float(sum(found))
        now = time.time()
        for name, value in values.items():
            self.series[name].append((now, value))

    def result(self) -> dict[str, Any]:
        ended = time.time()
        return {name: state.summary(ended) for name, state in self.states.items()}

    def series_result(self) -> dict[str, dict[str, float | int | None]]:
        return {
            name: {
                "samples": len(values),
                "min": min((v for _, v in values), default=None),
                "max": max((v for _, v in values), default=None),
                "last": values[-1][1] if values else None,
            }
            for name, values in self.series.items()
        }


def enabled(environment) -> bool:
    options = environment.parsed_options
    return bool(options is not None and getattr(options, "monitor", False))


def monitor_of(environment) -> Monitor:
    """This run's monitor: its probes and samples belong to the run, not to the process."""
    return run_of(environment).slot(Monitor)


@join("start")
def start(environment, run: RunContext) -> None:
    if enabled(environment) and not isinstance(environment.runner, WorkerRunner):
        run.slot(Monitor).start(environment)


@join("stop")
def stop(environment, run: RunContext) -> None:
    """The probes stop with the load: a run's samples lie between its own start and end."""
    monitor = run.get(Monitor)
    if monitor is not None:
        monitor.stop()


@suite.figures_collecting.add_listener
def _figures(environment, figures: dict, **kwargs: Any) -> None:
    monitor = monitor_of(environment)
    if not enabled(environment) or not monitor.states:
        return
    result = monitor.result()
    figures["monitor_unhealthy_s"] = {n: r["unhealthy_s"] for n, r in result.items()}
    figures["monitor_recovery_s"] = {n: r["longest_unhealthy_s"] for n, r in result.items()}


@suite.rows_recording.add_listener
def _rows(environment, run_id: str, rows: dict, **kwargs: Any) -> None:
    monitor = monitor_of(environment)
    if not enabled(environment) or not monitor.states:
        return
    rows[MONITOR_SAMPLES] = [
        (run_id, name, at, ok, latency, healthy, detail, None)
        for name, state in monitor.states.items()
        for at, ok, latency, detail, healthy in state.samples
    ] + [
        (run_id, f"series:{name}", at, True, None, True, "", value)
        for name, values in monitor.series.items()
        for at, value in values
    ]


@suite.summary_assembling.add_listener
def _summary(environment, summary: dict, lines: list[str], **kwargs: Any) -> None:
    monitor = monitor_of(environment)
    if not enabled(environment) or not monitor.states:
        return
    summary["monitor"] = monitor.result()
    if monitor.series:
        summary["monitor_series"] = monitor.series_result()
        for name, r in summary["monitor_series"].items():
            lines.append(f"  monitor series {name}: {r['samples']} samples, min {r['min']}, "
                         f"max {r['max']}, last {r['last']}")  # fmt: skip
    for name, r in summary["monitor"].items():
        outages = ", ".join(f"{p['seconds']:.1f} s" for p in r["unhealthy_periods"]) or "none"
        lines.append(
            f"  monitor {name}: {r['samples']} probes, {r['failures']} failed; unhealthy "
            f"periods: {outages}{'' if r['healthy_at_end'] else ' (still unhealthy at the end)'}"
        )

"""A saturation signal for autoscalers: the master's ``/metrics``, in Prometheus format.

An autoscaler (a Kubernetes HPA on an external metric, KEDA's Prometheus scaler) has only CPU
to go on, which says little about a load generator: a worker at 60% CPU may already start its
iterations late. The suite knows better, and says it here: the workers in the run, the rate
asked and the rate achieved, the iterations that started late or were skipped, each worker's
CPU, and a generator-bound flag. Add workers on ``obstack_load_generator_bound`` or on
``rate(obstack_load_late_iterations_total[1m])``, not on CPU (``deploy/k8s/keda-scaledobject.yaml``).

Served on the web UI's port (``/metrics``, behind its login if it has one) and, with
``--metrics-port``, on a port of its own (a headless master has no web UI). The master or a
standalone process serves it; workers do not.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import gevent
from gevent.pywsgi import WSGIServer
from locust import events
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner
from prometheus_client import CollectorRegistry, generate_latest, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from obstack_load.run.arrival import arrival_of
from obstack_load.run.context import RunContext, run_of
from obstack_load.run.endings import join
from obstack_load.run.options import add_option, validator

logger = logging.getLogger("obstack_load.saturation")
SAMPLE_S = 1.0
WINDOW_S = 10.0  # the achieved rate and the late share are over the last 10 s
LATE_SHARE_BOUND = 0.05  # the capacity verdict's own rule: over 5% late or skipped
CPU_BOUND = 90.0  # the results' own generator-bound CPU (results.run.GENERATOR_BOUND_CPU)
PREFIX = "obstack_load_"


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:
    add_option(parser, "--metrics-port", "serve the saturation signal's /metrics on this port "
               "too (the web UI's port always has it; 0: none of its own)", type=int, default=0)  # fmt: skip
    add_option(parser, "--metrics-host", "the interface --metrics-port listens on "
               "(default: all, as Locust's --web-host)", default="")  # fmt: skip


@validator
def _check(options: Any) -> None:
    """A port it cannot listen on is one line before any load, not a traceback after."""
    import socket

    from obstack_load.core.config import ConfigError

    port = getattr(options, "metrics_port", 0)
    if not port or getattr(options, "worker", False):
        return
    if not 0 < port < 65536:
        raise ConfigError("--metrics-port", "", f"{port} is not a port (1 to 65535)")
    try:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((options.metrics_host, port))
    except OSError as exc:
        raise ConfigError(
            "--metrics-port", "", f"cannot listen on {port}: {exc.strerror}"
        ) from None


@dataclass
class Sample:
    at: float  # monotonic
    iterations: int
    late: int
    skipped: int


@dataclass
class Saturation:
    """A run's recent arrival counts (in its ``RunContext``), sampled every ``SAMPLE_S``."""

    samples: deque[Sample] = field(default_factory=lambda: deque(maxlen=64))
    sampler: gevent.Greenlet | None = None

    def window(self) -> tuple[Sample, Sample] | None:
        if len(self.samples) < 2:
            return None
        last = self.samples[-1]
        first = next(s for s in self.samples if last.at - s.at <= WINDOW_S + SAMPLE_S / 2)
        return (first, last) if first is not last else (self.samples[-2], last)


def counts(environment) -> Sample:
    """The run's iterations so far: the workers' reports, and this process's own."""
    arrival = arrival_of(environment)
    totals, own = arrival.totals, arrival.stats
    return Sample(time.monotonic(), totals.iterations + own.iterations, totals.late + own.late,
                  totals.dropped + own.dropped)  # fmt: skip


def worker_cpu(environment) -> dict[str, float]:
    """Each worker's CPU percent (Locust's own, from its heartbeats); standalone, the process's."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        return {
            c.id: float(c.cpu_usage) for c in runner.clients.values() if c.state != STATE_MISSING
        }
    return {"local": float(getattr(runner, "current_cpu_usage", 0.0))}


def figures(environment) -> dict[str, Any]:
    """Everything ``/metrics`` says, as plain numbers."""
    runner = environment.runner
    options = environment.parsed_options
    run = run_of(environment)
    saturation = run.get(Saturation)
    now = counts(environment)
    achieved = late_share = None
    window = saturation.window() if saturation else None
    if window is not None:
        first, last = window
        seconds = last.at - first.at
        started = last.iterations - first.iterations
        behind = (last.late - first.late) + (last.skipped - first.skipped)
        achieved = started / seconds if seconds > 0 else None
        late_share = behind / (started + last.skipped - first.skipped) if started else None
    cpu = worker_cpu(environment)
    bound = bool(
        (cpu and max(cpu.values()) >= getattr(options, "generator_bound_cpu", CPU_BOUND))
        or (late_share is not None and late_share > LATE_SHARE_BOUND)
    )
    return {
        "workers": runner.worker_count if isinstance(runner, MasterRunner) else None,
        "users": runner.user_count if runner is not None else 0,
        "offered_rate": float(getattr(options, "arrival_rate", 0.0) or 0.0),
        "achieved_rate": achieved,
        "iterations": now.iterations,
        "late": now.late,
        "skipped": now.skipped,
        "late_share": late_share,
        "generator_bound": bound,
        "cpu": cpu,
        "requests": environment.stats.total.num_requests,
        "failures": environment.stats.total.num_failures,
    }


class Collector:
    """``figures`` as Prometheus metrics, read at each scrape (prometheus_client's custom
    collector: nothing is kept between scrapes but the run's own counts)."""

    def __init__(self, environment) -> None:
        self.environment = environment

    def collect(self):
        f = figures(self.environment)
        gauges = {
            "workers": ("workers connected to the master", f["workers"]),
            "users": ("users running", f["users"]),
            "offered_iterations_per_second": (
                "the open-model rate asked (--arrival-rate; 0: closed model)", f["offered_rate"]),
            "achieved_iterations_per_second": (
                f"iterations started per second over the last {WINDOW_S:.0f} s", f["achieved_rate"]),
            "late_share": (f"late or skipped iterations' share over the last {WINDOW_S:.0f} s",
                           f["late_share"]),
            "generator_bound": ("1 when the generator is the limit: a worker at "
                                f"{CPU_BOUND:.0f}% CPU or more, or over {LATE_SHARE_BOUND:.0%} "
                                "of iterations late or skipped", int(f["generator_bound"])),
        }  # fmt: skip
        for name, (help, value) in gauges.items():
            if value is not None:
                yield GaugeMetricFamily(PREFIX + name, help, value=value)
        counters = {
            "iterations": ("open-model iterations started", f["iterations"]),
            "late_iterations": ("iterations started over 10 ms after their slot", f["late"]),
            "skipped_iterations": ("iterations skipped, over --arrival-max-lag behind", f["skipped"]),
            "requests": ("requests made in this run", f["requests"]),
            "failures": ("requests failed in this run", f["failures"]),
        }  # fmt: skip
        for name, (help, value) in counters.items():
            yield CounterMetricFamily(PREFIX + name, help, value=value)
        cpu = GaugeMetricFamily(PREFIX + "worker_cpu_percent", "each worker's CPU (Locust's own)",
                                labels=["worker"])  # fmt: skip
        for worker, percent in sorted(f["cpu"].items()):
            cpu.add_metric([worker], percent)
        yield cpu


def registry_of(environment) -> CollectorRegistry:
    found = getattr(environment, "obstack_saturation_registry", None)
    if found is None:
        found = CollectorRegistry(auto_describe=False)
        found.register(Collector(environment))
        environment.obstack_saturation_registry = found
    return found


@events.init.add_listener
def _serve(environment, **kwargs: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
        return
    registry = registry_of(environment)
    web_ui = environment.web_ui
    if web_ui is not None:

        @web_ui.app.route("/metrics")
        @web_ui.auth_required_if_enabled
        def metrics():
            return generate_latest(registry), 200, {"Content-Type": "text/plain; version=0.0.4"}

    port = getattr(environment.parsed_options, "metrics_port", 0)
    if port:
        host = environment.parsed_options.metrics_host
        server = WSGIServer((host, port), make_wsgi_app(registry), log=None)
        server.start()
        logger.info("obstack-load: the saturation signal at http://%s:%d/metrics",
                    host or "0.0.0.0", port)  # fmt: skip


@join("start")
def _start_sampling(environment, run: RunContext) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    saturation = run.slot(Saturation)
    saturation.sampler = gevent.spawn(_sample, environment, run, saturation)


def _sample(environment, run: RunContext, saturation: Saturation) -> None:
    while not run.ended:
        saturation.samples.append(counts(environment))
        gevent.sleep(SAMPLE_S)


@join("stop")
def _stop_sampling(environment, run: RunContext) -> None:
    saturation = run.get(Saturation)
    if saturation is not None and saturation.sampler is not None:
        saturation.sampler.kill(block=False)

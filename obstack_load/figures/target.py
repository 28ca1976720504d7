"""The target's figures, through one seam: its CPU and memory, its database pool, its write
queue and the requests it throttled, read by the capacity verdict, the monitor's series, the
database figures and the report's target chart.

A figure comes from one of two sources:

- the user's Prometheus (``--prometheus``), one PromQL query per figure from a figures file
  (``figures/prometheus.py``): what a real deployment has, where the public host has no
  ``/metrics``;
- else the target's own ``/metrics``, as a fallback, and only when it parses as Prometheus
  text: the reference platform's names (``METRICS_PAGE``).

A figure neither has is "n/a", with one line that says why, said once: never a traceback and
never a value the measurements did not make. Plain data out, no Locust.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import requests
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from obstack_load.core.tenants import population

logger = logging.getLogger("obstack_load.figures")


@dataclass(frozen=True)
class Figure:
    name: str
    kind: Literal["counter", "gauge"]  # a counter is read as its change over a window
    meaning: str


FIGURES: dict[str, Figure] = {f.name: f for f in (
    Figure("cpu_seconds", "counter", "CPU seconds the target's processes used, all summed"),
    Figure("memory_bytes", "gauge", "the target's resident memory, all processes summed"),
    Figure("db_pool_in_use", "gauge", "database connections lent out of the pool now"),
    Figure("db_pool_size", "gauge", "database connections the pool may hold"),
    Figure("db_pool_waiting", "gauge", "requests waiting for a pool connection now"),
    Figure("db_pool_busy_seconds", "counter", "seconds connections were out of the pool, "
           "summed: an exact utilisation where the pool exports it"),
    Figure("db_connections", "gauge", "connections the database server holds"),
    Figure("write_queue_depth", "gauge", "items waiting in the target's write queue"),
    Figure("throttled_requests", "counter", "requests the target answered 429 (throttled)"),
)}  # fmt: skip


@dataclass
class Reading:
    """The figures a source had at one moment; a figure it lacks is absent (n/a)."""

    at: float  # time.monotonic()
    values: dict[str, float] = field(default_factory=dict)


class Source(Protocol):
    description: str

    def read(self, names: tuple[str, ...] | None = None) -> Reading: ...


def say_once(where: str, why: str) -> None:
    """One line per source and reason, however often it is read (the monitor reads every s)."""
    _said(where, " ".join(why.split())[:200])


@functools.cache
def _said(where: str, why: str) -> None:
    logger.warning("obstack-load: the target's figures are n/a: %s: %s", where, why)


# ---- the fallback: the target's own /metrics ------------------------------------------------


def scrape(host: str, api_key: str | None, timeout: float) -> list[Sample] | None:
    """Every sample of the target's /metrics; None when it does not answer in time, or answers
    with something other than Prometheus text (a foreign target's catch-all page, say)."""
    url = f"{host.rstrip('/')}/metrics"
    try:
        headers = {"X-API-Key": api_key} if api_key else {}
        response = requests.get(url, headers=headers, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as exc:
        say_once(url, f"no answer ({type(exc).__name__})")
        return None
    try:
        samples = [s for f in text_string_to_metric_families(response.text) for s in f.samples]
    except Exception as exc:  # the parser raises ValueError, TypeError, IndexError...
        say_once(url, f"not Prometheus text ({exc})")
        return None
    if not samples:
        say_once(url, "no samples")
    return samples


# Each figure in the reference platform's /metrics: the series summed over their labels, times
# a scale. The pool's figures are psycopg_pool's get_stats(), exported as they are.
METRICS_PAGE: dict[str, tuple[str, float]] = {
    "cpu_seconds": ("process_cpu_seconds_total", 1.0),
    "memory_bytes": ("process_resident_memory_bytes", 1.0),
    "db_pool_size": ("obstack_db_pool_pool_max", 1.0),
    "db_pool_waiting": ("obstack_db_pool_requests_waiting", 1.0),
    "db_pool_busy_seconds": ("obstack_db_pool_usage_ms", 0.001),
    "write_queue_depth": ("obstack_db_write_queue_points", 1.0),
    "throttled_requests": ("obstack_throttled_requests_total", 1.0),
}


class MetricsPage:
    """The target's own /metrics, read with a tenant's key: the fallback source."""

    def __init__(self, host: str, api_key: str | None, timeout: float = 5.0) -> None:
        self.host, self.api_key, self.timeout = host, api_key, timeout
        self.description = f"{host.rstrip('/')}/metrics"
        self.samples: list[Sample] | None = None  # the last page read, for what it alone has

    def read(self, names: tuple[str, ...] | None = None) -> Reading:
        self.samples = scrape(self.host, self.api_key, self.timeout)
        reading = Reading(time.monotonic())
        if self.samples is None:
            return reading
        sums: dict[str, float] = {}
        for sample in self.samples:
            sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
        for name, (series, scale) in METRICS_PAGE.items():
            if series in sums and (names is None or name in names):
                reading.values[name] = sums[series] * scale
        if "obstack_db_pool_pool_size" in sums and "obstack_db_pool_pool_available" in sums:
            reading.values["db_pool_in_use"] = (
                sums["obstack_db_pool_pool_size"] - sums["obstack_db_pool_pool_available"]
            )
        return reading


def target_of(environment: Any) -> tuple[str, str] | None:
    """The run's --host and a key its /metrics takes (the population's first tenant's)."""
    if not environment.host:
        return None
    options = environment.parsed_options
    tenants = population(getattr(options, "tenants_file", None) if options else None)
    return environment.host, tenants.tenants[0].api_key


# ---- figures over a window --------------------------------------------------------------------


def change(start: Reading, end: Reading, name: str) -> float | None:
    """A counter's change from ``start`` to ``end``; None when either lacks it. A counter that
    went down was reset (the target restarted): its change is then its value at the end."""
    if name not in start.values or name not in end.values:
        return None
    moved = end.values[name] - start.values[name]
    return moved if moved >= 0 else end.values[name]


def usage(readings: list[Reading]) -> dict[str, Any]:
    """The target's figures over the window the readings span (oldest first): its CPU as a share
    of one core, its peak memory, the pool's utilisation and peak waiting, the requests it
    throttled. None for each figure the source lacks."""
    first, last = readings[0], readings[-1]
    seconds = last.at - first.at
    out: dict[str, Any] = {"target_cpu": None, "target_memory_bytes": None,
                           "pool_utilization": None, "pool_waiting": None, "throttled": None}  # fmt: skip
    cpu = change(first, last, "cpu_seconds")
    if cpu is not None and seconds > 0:
        out["target_cpu"] = cpu / seconds
    memory = [r.values["memory_bytes"] for r in readings if "memory_bytes" in r.values]
    out["target_memory_bytes"] = max(memory) if memory else None
    size = last.values.get("db_pool_size")
    busy = change(first, last, "db_pool_busy_seconds")
    if size and seconds > 0 and busy is not None:
        out["pool_utilization"] = busy / (size * seconds)
    elif size:  # no busy-time counter: the gauge, sampled at each reading
        in_use = [r.values["db_pool_in_use"] for r in readings if "db_pool_in_use" in r.values]
        out["pool_utilization"] = sum(in_use) / len(in_use) / size if in_use else None
    waiting = [r.values["db_pool_waiting"] for r in readings if "db_pool_waiting" in r.values]
    out["pool_waiting"] = max(waiting) if waiting else None
    throttled = change(first, last, "throttled_requests")
    out["throttled"] = int(throttled) if throttled is not None else None
    return out

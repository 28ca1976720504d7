"""A window of the run: its figures as differences between two snapshots (a capacity step,
the seconds a chaos probe judges).

Locust's stats (merged from the workers on a master) give each endpoint's requests and
failures; the arrival rate's histograms give latency measured from each iteration's scheduled
start (corrected for coordinated omission), which is the latency an SLO must be judged on in an
open model. A step's window is then a ``RequestStats`` of its own, so the SLOs are judged by the
thresholds' own code. The generator's CPU comes from each process's CPU seconds, the target's
figures (its CPU, memory, pool, throttling) through the run's one source
(``figures/seam.py``: the user's Prometheus, else the target's own /metrics).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import psutil
from locust.stats import RequestStats, StatsEntry

from obstack_load.core import histogram
from obstack_load.figures import target
from obstack_load.run import arrival

CPU_REPORT_KEY = "obstack_capacity_cpu"
WINDOW_FIGURES = ("cpu_seconds", "memory_bytes", "db_pool_in_use", "db_pool_size",
                  "db_pool_waiting", "db_pool_busy_seconds", "throttled_requests")  # fmt: skip


def cpu_seconds() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


@dataclass
class Snapshot:
    at: float
    entries: dict[tuple[str, str], tuple[int, int, float, dict[int, int]]]
    corrected: dict[str, dict[int, int]]
    iterations: int
    late: int  # late or dropped
    dropped: int
    cpu: dict[str, tuple[float, float]]  # process: (when, CPU seconds)
    target: target.Reading | None = None


def take(environment, worker_cpu: dict[str, tuple[float, float]], source) -> Snapshot:
    stats = environment.stats
    entries = {
        key: (e.num_requests, e.num_failures, e.total_response_time, dict(e.response_times))
        for key, e in stats.entries.items()
    }
    corrected: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    counts = arrival.arrival_of(environment)
    totals, own = counts.totals, counts.stats
    for histograms in (totals.corrected, own.corrected):  # standalone: stats
        for name, counts in list(histograms.items()):
            histogram.add(corrected[name], dict(counts))
    cpu = dict(worker_cpu) or {"local": (time.monotonic(), cpu_seconds())}
    return Snapshot(
        time.monotonic(), entries, corrected,
        totals.iterations + own.iterations,
        totals.late + own.late + totals.dropped + own.dropped,
        totals.dropped + own.dropped,
        cpu, source.read(WINDOW_FIGURES) if source is not None else None,
    )  # fmt: skip


def _diff_histogram(end: dict[int, int], start: dict[int, int]) -> dict[int, int]:
    out = {k: v - start.get(k, 0) for k, v in end.items()}
    return {k: v for k, v in out.items() if v > 0}


def window_stats(start: Snapshot, end: Snapshot, corrected: bool = True) -> RequestStats:
    """The requests between two snapshots, with corrected latencies where there are any (and
    ``corrected`` is True), else as each request measured itself."""
    stats = RequestStats(use_response_times_cache=False)
    seconds = max(end.at - start.at, 1e-9)
    now = time.time()
    for key, (requests_n, failures, total_ms, times) in end.entries.items():
        n0, f0, t0, times0 = start.entries.get(key, (0, 0, 0.0, {}))
        if requests_n <= n0:
            continue
        name, method = key
        scheduled = (
            _diff_histogram(end.corrected.get(name, {}), start.corrected.get(name, {}))
            if corrected
            else {}
        )
        raw = _diff_histogram(times, times0)
        entry = StatsEntry(stats, name, method, use_response_times_cache=False)
        entry.num_requests = requests_n - n0
        entry.num_failures = failures - f0
        entry.response_times = scheduled or raw
        entry.total_response_time = (
            sum(k * v for k, v in scheduled.items()) if scheduled else total_ms - t0
        )
        entry.min_response_time = min(entry.response_times) if entry.response_times else None
        entry.max_response_time = max(entry.response_times) if entry.response_times else 0
        entry.start_time, entry.last_request_timestamp = now - seconds, now
        stats.entries[key] = entry
        stats.total.extend(entry)
    stats.total.start_time, stats.total.last_request_timestamp = now - seconds, now
    return stats


def generator_cpu(start: Snapshot, end: Snapshot) -> float | None:
    """The busiest generator process's CPU over the window, as a fraction of one core."""
    busiest = None
    for process, (when, seconds) in end.cpu.items():
        if process not in start.cpu:
            continue
        when0, seconds0 = start.cpu[process]
        if when > when0:
            share = (seconds - seconds0) / (when - when0)
            busiest = share if busiest is None else max(busiest, share)
    return busiest


def late_ratio(start: Snapshot, end: Snapshot) -> float:
    """Of the slots scheduled in the window (run or dropped), those late or dropped."""
    scheduled = end.iterations - start.iterations + end.dropped - start.dropped
    return (end.late - start.late) / scheduled if scheduled > 0 else 0.0


def target_usage(*snapshots: Snapshot) -> dict[str, Any]:
    """The target's figures over the window the snapshots span; each None when n/a."""
    readings = [s.target for s in snapshots if s.target is not None]
    if len(readings) < 2:
        return target.usage([target.Reading(0.0), target.Reading(1.0)])
    return target.usage(readings)

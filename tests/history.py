"""Seeded results histories for tests and benchmarks: runs written through the results store's
own write path, with interval histograms bucketed as Locust buckets them.

``seed_history`` writes N runs of one label whose latency level is given per run (for example a
20% step at run 20); ``seed_long_run`` writes one run of any length with every raw row kept.
"""

from __future__ import annotations

import json
import uuid
from array import array
from collections import Counter
from collections.abc import Sequence

import numpy as np

from obstack_load.core import histogram
from obstack_load.results.rows import RowBlock
from obstack_load.results.store import Batch, Store

ENDPOINTS = (("GET", "/api/v1/dashboards"), ("GET", "/api/v1/logs/search"), ("POST", "/v1/logs"))


def _run_row(run_id: str, label: str, started: float, seconds: float, requests: int) -> dict:
    return {
        "run_id": run_id, "label": label, "profile": "seeded", "host": "http://127.0.0.1:1",
        "started_at": started, "ended_at": started + seconds, "status": "finished",
        "exit_code": 0, "thresholds_verdict": "passed", "total_requests": requests,
        "total_failures": 0, "dropped_rows": 0, "generator_bound": False, "git_revision": "seeded",
    }  # fmt: skip


def _interval(run_id: str, ts: float, seconds: float, method: str, name: str,
              times: np.ndarray) -> tuple:  # fmt: skip
    keys = histogram.bucket_keys(times)
    buckets = {str(k): int(v) for k, v in Counter(keys.tolist()).items()}
    p = histogram.percentiles({int(k): v for k, v in buckets.items()})
    return (
        run_id, ts, seconds, method, name, len(times), 0, float(times.min()),
        float(times.mean()), float(times.max()), p["p50_ms"], p["p90_ms"], p["p95_ms"],
        p["p99_ms"], float(times.sum()), 100 * len(times), 0, json.dumps(buckets),
    )  # fmt: skip


def seed_history(
    store: Store,
    levels_ms: Sequence[float],
    label: str = "seeded",
    start: float = 1_700_000_000.0,
    intervals: int = 6,
    per_interval: int = 50,
    noise: float = 0.05,
    seed: int = 7,
) -> list[str]:
    """One run per level, a day apart; each run's latencies are lognormal around its level with
    ``noise`` run-to-run variation. Returns the run ids, oldest first."""
    rng = np.random.default_rng(seed)
    run_ids = []
    for index, level in enumerate(levels_ms):
        run_id = uuid.uuid4().hex
        started = start + index * 86_400
        run_level = level * (1 + noise * rng.standard_normal())
        batch = Batch(batch_id=uuid.uuid4().hex)
        for i in range(intervals):
            for method, name in ENDPOINTS:
                times = run_level * rng.lognormal(0.0, 0.25, per_interval)
                batch.intervals.append(_interval(run_id, started + 5 * i, 5.0, method, name, times))
        requests = intervals * per_interval * len(ENDPOINTS)
        batch.runs.append(_run_row(run_id, label, started, 5.0 * intervals, requests))
        store.write(batch)
        run_ids.append(run_id)
    return run_ids


def seed_long_run(
    store: Store, seconds: int = 3600, rate: int = 200, interval: float = 5.0, seed: int = 11,
    label: str = "one-hour", start: float = 1_700_000_000.0,
) -> str:  # fmt: skip
    """One run of ``seconds`` at ``rate`` requests/s over ``ENDPOINTS``, every raw row kept,
    written a minute at a time as the results writer would."""
    rng = np.random.default_rng(seed)
    run_id = uuid.uuid4().hex
    per_interval = int(rate * interval / len(ENDPOINTS))
    minute = int(60 / interval)
    for first in range(0, int(seconds / interval), minute):
        batch = Batch(batch_id=uuid.uuid4().hex)
        for i in range(first, min(first + minute, int(seconds / interval))):
            ts = start + i * interval
            for method, name in ENDPOINTS:
                times = 5.0 * rng.lognormal(0.0, 0.4, per_interval)
                batch.intervals.append(_interval(run_id, ts, interval, method, name, times))
                values = array("d")
                at = ts + np.sort(rng.uniform(0, interval, per_interval))
                for when, took in zip(at.tolist(), times.tolist(), strict=True):
                    values.extend((when, took, 100.0))
                batch.requests.append(RowBlock(run_id, "standalone", method, name, None, values))
        store.write(batch)
    total = per_interval * len(ENDPOINTS) * int(seconds / interval)
    row = _run_row(run_id, label, start, float(seconds), total)
    store.write(Batch(batch_id=uuid.uuid4().hex, runs=[row]))
    return run_id

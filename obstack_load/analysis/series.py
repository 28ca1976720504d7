"""What reports, comparisons and trends read: per-interval and per-run series, in SQL.

Everything comes from ``request_intervals``, ``user_counts``, ``system_metrics`` and ``runs``;
raw request rows are never read. Several rows may share an interval (a worker's late report),
so counts are summed and histograms merged, never assumed one per key.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from obstack_load.core import histogram as histograms
from obstack_load.results.store import Store

TOTAL = ("", "Aggregated")  # the (method, name) of all requests together
METRICS = ("mean", "p50", "p90", "p95", "p99")


@dataclass
class Intervals:
    """One endpoint's intervals in one run, oldest first."""

    ts: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    items: list[int] = field(default_factory=list)
    histograms: list[dict[int, int]] = field(default_factory=list)

    def add(self, row: dict, histogram: dict[int, int]) -> None:
        if self.ts and self.ts[-1] == row["ts"]:
            self.counts[-1] += row["count"]
            self.failures[-1] += row["failures"]
            self.total_ms[-1] += row["total_ms"]
            self.items[-1] += row["items"] or 0
            histograms.add(self.histograms[-1], histogram)
            return
        self.ts.append(row["ts"])
        self.seconds.append(row["interval_s"])
        self.counts.append(row["count"])
        self.failures.append(row["failures"])
        self.total_ms.append(row["total_ms"])
        self.items.append(row["items"] or 0)
        merged: dict[int, int] = defaultdict(int)
        histograms.add(merged, histogram)
        self.histograms.append(merged)

    def values(self, metric: str) -> np.ndarray:
        """The metric per interval (intervals without requests have none)."""
        if metric == "mean":
            return np.array([t / c for t, c in zip(self.total_ms, self.counts, strict=True) if c])
        fraction = int(metric[1:]) / 100
        return np.array(
            [
                histograms.percentile(h, c, fraction)
                for h, c in zip(self.histograms, self.counts, strict=True)
                if c
            ],
            dtype=float,
        )

    @property
    def requests(self) -> int:
        return sum(self.counts)

    @property
    def failed(self) -> int:
        return sum(self.failures)


def _histogram(value) -> dict:
    return json.loads(value) if isinstance(value, str) else (value or {})


def intervals(store: Store, run_id: str, warmup_s: float = 0.0) -> dict[tuple[str, str], Intervals]:
    """Every endpoint's intervals, and their sum under ``TOTAL``; the first ``warmup_s``
    seconds of the run left out."""
    sql = (
        "SELECT ts, interval_s, method, name, count, failures, total_ms, items, histogram "
        "FROM request_intervals WHERE run_id = ?"
    )
    params: tuple = (run_id,)
    if warmup_s > 0:
        # intervals are aligned to the clock, so the first one may start before the run did
        start = store.fetch("SELECT started_at FROM runs WHERE run_id = ?", (run_id,))
        sql += " AND ts >= ?"
        params += ((start[0]["started_at"] or 0.0) + warmup_s if start else 0.0,)
    rows = store.fetch(sql + " ORDER BY ts", params)
    out: dict[tuple[str, str], Intervals] = defaultdict(Intervals)
    for row in rows:
        histogram = _histogram(row["histogram"])
        out[(row["method"], row["name"])].add(row, histogram)
        out[TOTAL].add(row, histogram)
    return dict(out)


def signal_of(name: str) -> str | None:
    """``/v1/logs`` (and its throttled twin) is the logs signal's OTLP endpoint."""
    parts = name.split("/")
    if (
        len(parts) >= 3
        and parts[1] == "v1"
        and parts[2].split(" ")[0] in ("logs", "metrics", "traces")
    ):
        return parts[2].split(" ")[0]
    return None


def user_counts(store: Store, run_id: str) -> list[dict]:
    return store.fetch(
        "SELECT ts, user_count FROM user_counts WHERE run_id = ? ORDER BY ts", (run_id,)
    )


def system_metrics(store: Store, run_id: str) -> list[dict]:
    return store.fetch(
        "SELECT ts, node, role, cpu_percent, memory_rss_bytes FROM system_metrics "
        "WHERE run_id = ? ORDER BY node, ts",
        (run_id,),
    )


def duration_s(run: dict) -> float | None:
    """A run's length from its start to its end; None while it has no end."""
    started, ended = run.get("started_at"), run.get("ended_at")
    return ended - started if started and ended and ended > started else None


@dataclass(frozen=True)
class HistoryFilter:
    label: str | None = None
    profile: str | None = None
    since: float | None = None  # unix seconds
    limit: int = 1000


def history(store: Store, where: HistoryFilter) -> list[dict]:
    """Runs matching the filter, oldest first."""
    clauses, params = _where(where)
    rows = store.fetch(
        "SELECT run_id, label, profile, started_at, ended_at, status, exit_code, "
        f"thresholds_verdict, total_requests, total_failures FROM runs {clauses} "
        "ORDER BY started_at DESC LIMIT ?",
        (*params, where.limit),
    )
    return rows[::-1]


def _where(where: HistoryFilter) -> tuple[str, tuple]:
    clauses, params = [], []
    for column, value in (("label", where.label), ("profile", where.profile)):
        if value is not None:
            clauses.append(f"runs.{column} = ?")
            params.append(value)
    if where.since is not None:
        clauses.append("runs.started_at >= ?")
        params.append(where.since)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", tuple(params)


def run_percentiles(
    store: Store, run_ids: Iterable[str], fraction: float = 0.95
) -> dict[str, dict[tuple[str, str], float | None]]:
    """Each run's percentile per endpoint (and ``TOTAL``), Locust's, from histograms merged in
    SQL: the database adds up the buckets, Python only walks the sums."""
    ids = list(run_ids)
    if not ids:
        return {}
    each = (
        "jsonb_each_text(i.histogram) AS h(key, value)"
        if store.dialect == "postgresql"
        else "json_each(i.histogram) AS h"
    )
    cast = "BIGINT" if store.dialect == "postgresql" else "INTEGER"
    marks = ", ".join("?" for _ in ids)
    rows = store.fetch(
        f"SELECT i.run_id, i.method, i.name, CAST(h.key AS {cast}) AS bucket, "
        f"CAST(SUM(CAST(h.value AS {cast})) AS {cast}) AS n FROM request_intervals i, {each} "
        f"WHERE i.run_id IN ({marks}) GROUP BY i.run_id, i.method, i.name, bucket",
        tuple(ids),
    )
    merged: dict[str, dict[tuple[str, str], dict[int, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    for row in rows:
        merged[row["run_id"]][(row["method"], row["name"])][row["bucket"]] += row["n"]
        merged[row["run_id"]][TOTAL][row["bucket"]] += row["n"]
    return {
        run_id: {
            key: histograms.percentile(h, sum(h.values()), fraction) for key, h in by_key.items()
        }
        for run_id, by_key in merged.items()
    }

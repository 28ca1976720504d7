"""Database figures over a run: index use per table, the cache hit ratio, and the top
statements, read from PostgreSQL's statistics views as deltas between the run's start and end
(never since the server started), for the summary and for thresholds
(``db_index_usage{table=metric_points}>0.95``, ``db_cache_hit>0.99``). Index use counts the
tables and partitions of 10,000 rows or more, as the common check does.

It reads the database the run drives (``--db-target``), and the target's connection pool
through the run's source of target figures (``figures/seam.py``: the user's Prometheus, else
the target's /metrics): utilisation, the time connections were out of the pool over the time
the pool could have lent them (or the connections in use, sampled, where the pool exports no
busy time), and, from the reference platform's own /metrics only, efficiency, the share of
requests for a connection served without waiting (``db_pool_utilization<0.8``,
``db_pool_efficiency>0.9``). A partitioned table's figures are its
partitions' added up under the parent's name. PostgreSQL counts a backend's scans when the
backend flushes its statistics (at the latest as it exits), so the end is read once the run's
own connections (``application_name`` ``obstack-load``) are gone, waiting at most 10 s.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from locust.runners import STATE_CLEANUP, STATE_STOPPED, STATE_STOPPING, WorkerRunner

from obstack_load.figures import target
from obstack_load.figures.seam import source_of
from obstack_load.run.context import RunContext, run_of
from obstack_load.run.endings import join
from obstack_load.run.events import suite

logger = logging.getLogger("obstack_load.figures.database")
APPLICATION_NAME = "obstack-load"
FLUSH_WAIT_S = 10.0
TOP_STATEMENTS = 5

# Scans of tables (or partitions) under 10,000 rows are left out of index use, as the common
# check does: the planner rightly reads a small or empty partition (tomorrow's, say) whole.
MIN_ROWS = 10_000
TABLES = f"""
SELECT COALESCE(parent.relname, t.relname) AS name,
       SUM(CASE WHEN t.n_live_tup >= {MIN_ROWS} THEN t.seq_scan ELSE 0 END) AS seq_scan,
       SUM(CASE WHEN t.n_live_tup >= {MIN_ROWS} THEN COALESCE(t.idx_scan, 0) ELSE 0 END) AS idx_scan,
       SUM(t.n_tup_ins) AS inserted
FROM pg_stat_user_tables t
LEFT JOIN pg_inherits i ON i.inhrelid = t.relid
LEFT JOIN pg_class parent ON parent.oid = i.inhparent
GROUP BY 1
"""
CACHE = """
SELECT SUM(heap_blks_hit + COALESCE(idx_blks_hit, 0)) AS hit,
       SUM(heap_blks_read + COALESCE(idx_blks_read, 0)) AS read
FROM pg_statio_user_tables
"""
STATEMENTS = "SELECT queryid, query, calls, total_exec_time FROM pg_stat_statements"


@dataclass
class Snapshot:
    tables: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # seq, idx, inserted
    cache: tuple[int, int] = (0, 0)  # hit, read
    statements: dict[int, tuple[str, int, float]] | None = None  # None: no pg_stat_statements


def snapshot(dsn: str) -> Snapshot:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        taken = Snapshot()
        for name, seq, idx, inserted in conn.execute(TABLES):
            taken.tables[name] = (int(seq or 0), int(idx or 0), int(inserted or 0))
        hit, read = conn.execute(CACHE).fetchone()
        taken.cache = (int(hit or 0), int(read or 0))
        installed = conn.execute(
            "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"
        ).fetchone()
        if installed:
            taken.statements = {
                row[0]: (row[1], int(row[2]), float(row[3])) for row in conn.execute(STATEMENTS)
            }
        return taken


def wait_for_flush(dsn: str) -> None:
    """Until none of the run's own connections is left (their statistics are then counted)."""
    deadline = time.monotonic() + FLUSH_WAIT_S
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        while time.monotonic() < deadline:
            left = conn.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = %s "
                "AND pid <> pg_backend_pid()",
                (APPLICATION_NAME,),
            ).fetchone()[0]
            if not left:
                return
            time.sleep(0.1)  # a poll interval: the backends exit on their own


def deltas(start: Snapshot, end: Snapshot) -> dict[str, Any]:
    tables = {}
    for name, (seq, idx, inserted) in end.tables.items():
        seq0, idx0, inserted0 = start.tables.get(name, (0, 0, 0))
        scans = (seq - seq0) + (idx - idx0)
        tables[name] = {
            "seq_scans": seq - seq0,
            "index_scans": idx - idx0,
            "index_usage": (idx - idx0) / scans if scans else None,
            "inserted": inserted - inserted0,
        }
    hit, read = end.cache[0] - start.cache[0], end.cache[1] - start.cache[1]
    out: dict[str, Any] = {
        "tables": tables,
        "cache_hit": hit / (hit + read) if hit + read else None,
        "top_statements": None,
    }
    if start.statements is not None and end.statements is not None:
        moved = []
        for key, (query, calls, total) in end.statements.items():
            _, calls0, total0 = start.statements.get(key, (query, 0, 0.0))
            if calls > calls0:
                moved.append({"query": " ".join(query.split())[:200], "calls": calls - calls0,
                              "total_ms": total - total0,
                              "mean_ms": (total - total0) / (calls - calls0)})  # fmt: skip
        out["top_statements"] = sorted(moved, key=lambda s: -s["total_ms"])[:TOP_STATEMENTS]
    return out


POOL_FIGURES = ("db_pool_size", "db_pool_in_use", "db_pool_waiting", "db_pool_busy_seconds",
                "db_connections")  # fmt: skip


@dataclass
class PoolSnapshot:
    """The target's pool at one moment: its figures, and psycopg_pool's own counters and the
    latencies per statement kind where the source is the reference platform's /metrics."""

    reading: target.Reading
    pool: dict[str, float]
    statements: dict[str, tuple[float, float]]  # kind: (count, seconds)


def pool_snapshot(source) -> PoolSnapshot | None:
    """None when the source has no pool size (a target in memory, or one that does not say)."""
    reading = source.read(POOL_FIGURES)
    if "db_pool_size" not in reading.values:
        return None
    pool: dict[str, float] = {}
    counts: dict[str, float] = {}
    sums: dict[str, float] = {}
    for sample in getattr(source, "samples", None) or []:  # the /metrics page's, when it is one
        if sample.name.startswith("obstack_db_pool_"):
            pool[sample.name.removeprefix("obstack_db_pool_")] = sample.value
        elif sample.name == "obstack_db_query_seconds_count":
            counts[sample.labels["kind"]] = sample.value
        elif sample.name == "obstack_db_query_seconds_sum":
            sums[sample.labels["kind"]] = sample.value
    statements = {kind: (counts[kind], sums.get(kind, 0.0)) for kind in counts}
    return PoolSnapshot(reading, pool, statements)


def pool_deltas(start: PoolSnapshot, end: PoolSnapshot) -> dict[str, Any]:
    def moved(key: str) -> float | None:
        if key not in end.pool:
            return None
        return end.pool[key] - start.pool.get(key, 0.0)

    usage = target.usage([start.reading, end.reading])
    requests_num, queued, wait_ms = moved("requests_num"), moved("requests_queued"), moved(
        "requests_wait_ms")  # fmt: skip
    statements = {}
    for kind, (count, seconds) in end.statements.items():
        count0, seconds0 = start.statements.get(kind, (0.0, 0.0))
        if count > count0:
            statements[kind] = {
                "count": int(count - count0),
                "avg_ms": (seconds - seconds0) / (count - count0) * 1000,
            }
    return {
        "size": int(end.reading.values["db_pool_size"]),
        "utilization": usage["pool_utilization"],
        "in_use": end.reading.values.get("db_pool_in_use"),
        "waiting": end.reading.values.get("db_pool_waiting"),
        "db_connections": end.reading.values.get("db_connections"),
        "efficiency": 1 - (queued or 0) / requests_num if requests_num else None,
        "requests": None if requests_num is None else int(requests_num),
        "waited": None if requests_num is None else int(queued or 0),  # 0s are not exported
        "mean_wait_ms": wait_ms / requests_num if requests_num and wait_ms is not None else None,
        "errors": int(moved("requests_errors") or 0),
        "connections_lost": int(moved("connections_lost") or 0),
        "statements": statements,
    }


class Figures:
    def __init__(self) -> None:
        self.start: Snapshot | None = None
        self.pool_start: PoolSnapshot | None = None
        self.last: dict[str, Any] | None = None

    def target(self, environment) -> str | None:
        return getattr(environment.parsed_options, "db_target", None)

    def begin(self, environment) -> None:
        self.start, self.pool_start, self.last = None, None, None
        source = source_of(environment)
        if source is not None:
            self.pool_start = pool_snapshot(source)
        dsn = self.target(environment)
        if dsn:
            try:
                self.start = snapshot(dsn)
            except psycopg.Error as exc:
                logger.error("obstack-load: database figures unavailable: %s", exc)

    def measure(self, environment, final: bool) -> dict[str, Any] | None:
        measured: dict[str, Any] = {}
        source = source_of(environment)
        pool_end = pool_snapshot(source) if source is not None and self.pool_start else None
        if pool_end is not None:
            measured["pool"] = pool_deltas(self.pool_start, pool_end)  # type: ignore[arg-type]
        dsn = self.target(environment)
        if dsn and self.start is not None:
            if final:
                wait_for_flush(dsn)
            measured.update(deltas(self.start, snapshot(dsn)))
        self.last = measured or None
        return self.last


def figures_of(environment) -> Figures:
    """This run's database figures (in its ``RunContext``)."""
    return run_of(environment).slot(Figures)


@join("start")
def start(environment, run: RunContext) -> None:
    if not isinstance(environment.runner, WorkerRunner):
        run.slot(Figures).begin(environment)


@suite.figures_collecting.add_listener
def _collect(environment, figures: dict, **kwargs: Any) -> None:
    runner = environment.runner
    final = runner is None or runner.state in (STATE_STOPPED, STATE_STOPPING, STATE_CLEANUP)
    measured = figures_of(environment).measure(environment, final)
    if measured is None:
        return
    if "tables" in measured:
        figures["db_index_usage"] = {n: t["index_usage"] for n, t in measured["tables"].items()}
        figures["db_cache_hit"] = {"": measured["cache_hit"]}
    if "pool" in measured:
        figures["db_pool_utilization"] = {"": measured["pool"]["utilization"]}
        figures["db_pool_efficiency"] = {"": measured["pool"]["efficiency"]}


@suite.summary_assembling.add_listener
def _summary(environment, summary: dict, lines: list[str], **kwargs: Any) -> None:
    figures = figures_of(environment)
    measured = figures.last or figures.measure(environment, final=True)
    if measured is None:
        return
    summary["database"] = measured
    pool = measured.get("pool")
    if pool is not None:
        waits = (f" ({pool['waited']} of {pool['requests']} waited)"
                 if pool["requests"] is not None else "")  # fmt: skip
        lines.append(
            f"  database pool: {pool['size']} connections, utilisation "
            f"{_percent(pool['utilization'])}, efficiency {_percent(pool['efficiency'])}"
            f"{waits}, {pool['errors']} errors"
        )
    if "tables" not in measured:
        return
    used = [
        f"{name} {t['index_usage'] * 100:.1f}%"
        for name, t in sorted(measured["tables"].items())
        if t["index_usage"] is not None
    ]
    cache = measured["cache_hit"]
    lines.append(
        "  database: index usage " + (", ".join(used) or "no scans")
        + ("" if cache is None else f"; cache hit {cache * 100:.2f}%")
    )  # fmt: skip
    if measured["top_statements"]:
        top = measured["top_statements"][0]
        lines.append(
            f"  database: top statement {top['total_ms']:.0f} ms in {top['calls']} calls: {top['query'][:80]}"
        )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"

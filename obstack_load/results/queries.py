"""Reading runs back from the results database: the one place run totals and percentiles are computed.

Percentiles over a run are Locust's, computed from the merged interval histograms.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

from obstack_load.core import histogram as histograms
from obstack_load.core.errors import ObstackLoadError
from obstack_load.results.store import Store

RUN_COLUMNS = (
    "run_id, label, profile, host, started_at, ended_at, status, exit_code, thresholds_verdict, "
    "total_requests, total_failures, dropped_rows, generator_bound, git_revision, tags, notes"
)
ENDED = ("finished", "aborted", "degraded", "interrupted", "results-incomplete")


class RunNotFound(ObstackLoadError, LookupError):
    pass


def list_runs(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    rows = store.fetch(f"SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at DESC LIMIT ?", (limit,))
    for row in rows:
        row["tags"] = _json(row["tags"])
        row["notes"] = _json(row["notes"]) or {}
        row["generator_bound"] = bool(row["generator_bound"])
        row["status"] = shown_status(row)
    return with_interval_totals(store, rows)


def with_interval_totals(store: Store, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs that never wrote their final row (running, or ``abandoned``: killed without a word)
    get their totals from their stored intervals, and ``last_interval_end`` for rates, instead
    of the 0 requests their row still holds; ``totals_from`` says which."""
    unended = [r for r in runs if r.get("status") not in ENDED]
    for run in runs:
        run["totals_from"] = "run"
    if not unended:
        return runs
    marks = ", ".join("?" for _ in unended)
    sums = {
        row["run_id"]: row
        for row in store.fetch(
            "SELECT run_id, SUM(count) AS requests, SUM(failures) AS failures, "
            f"MAX(ts + interval_s) AS last FROM request_intervals WHERE run_id IN ({marks}) "
            "GROUP BY run_id",
            tuple(r["run_id"] for r in unended),
        )
    }
    for run in unended:
        found = sums.get(run["run_id"])
        if found:
            run["total_requests"] = int(found["requests"] or 0)
            run["total_failures"] = int(found["failures"] or 0)
            run["last_interval_end"] = found["last"]
            run["totals_from"] = "intervals"
    return runs


def shown_status(run: dict[str, Any]) -> str | None:
    """The run's status, except that a run still marked running (or stopped) whose process is
    gone is ``abandoned``: killed with SIGKILL, out of memory, or its machine lost. Only a
    process on this machine can be checked; elsewhere the stored status is shown."""
    status = run.get("status")
    process = (run.get("notes") or {}).get("process") or {}
    if status in ENDED or not process.get("pid"):
        return status
    if process.get("host") != socket.gethostname():
        return status
    try:
        os.kill(int(process["pid"]), 0)
    except ProcessLookupError:
        return "abandoned"
    except OSError:
        return status  # alive, but not ours to signal
    return status


def resolve_run(store: Store, ref: str) -> str:
    """A full run id from an id, a unique prefix, or ``latest``."""
    if ref == "latest":
        rows = store.fetch("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1")
    else:
        rows = store.fetch(
            "SELECT run_id FROM runs WHERE run_id LIKE ? ORDER BY started_at DESC", (ref + "%",)
        )
    if not rows:
        raise RunNotFound(f"no run matches {ref!r}")
    if len(rows) > 1:
        raise RunNotFound(f"{ref!r} matches {len(rows)} runs; give more of the id")
    return rows[0]["run_id"]


def run_report(store: Store, run_id: str) -> dict[str, Any]:
    runs = store.fetch("SELECT * FROM runs WHERE run_id = ?", (run_id,))
    if not runs:
        raise RunNotFound(f"no run {run_id!r}")
    run = runs[0]
    for key in ("tags", "options", "user_classes", "notes"):
        run[key] = _json(run.get(key))
    run["generator_bound"] = bool(run["generator_bound"])
    run["status"] = shown_status(run)
    rows = store.fetch(
        "SELECT method, name, count, failures, min_ms, max_ms, total_ms, bytes, items, histogram, "
        "ts, interval_s FROM request_intervals WHERE run_id = ? ORDER BY name, method",
        (run_id,),
    )
    # A run that never ended has no end time: its rates run to its last stored interval, and
    # with none there is no rate at all (never a duration of zero).
    last = run["ended_at"] or max((r["ts"] + r["interval_s"] for r in rows), default=None)
    duration = last - run["started_at"] if last is not None and last > run["started_at"] else None
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["name"], row["method"]), []).append(row)
    per_name = [
        _entry(name, method, items, duration) for (name, method), items in sorted(groups.items())
    ]
    totals = _entry("Aggregated", "", rows, duration)
    errors = store.fetch(
        "SELECT method, name, error, occurrences, first_seen, last_seen FROM errors WHERE run_id = ? ORDER BY occurrences DESC",
        (run_id,),
    )
    # SELECT *: a database not yet migrated to version 3 has no level; a reader never migrates.
    thresholds = store.fetch(
        "SELECT * FROM threshold_results WHERE run_id = ? ORDER BY expression, scope", (run_id,)
    )
    for row in thresholds:
        row["passed"] = bool(row["passed"])
        row["level"] = row.get("level") or ("pass" if row["passed"] else "fail")
    raw = store.fetch("SELECT COUNT(*) AS n FROM requests WHERE run_id = ?", (run_id,))[0]["n"]
    return {
        "run": run,
        "totals": totals,
        "requests": per_name,
        "errors": errors,
        "thresholds": thresholds,
        "raw_rows": raw,
    }


def schema_version(store: Store) -> int:
    return store.fetch("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")[0]["v"]


def health_of(store: Store, run_id: str) -> dict[str, Any]:
    """The health monitor's samples of a run and its chaos verdict, if any (a database not yet
    at schema version 6 or 7 has none: a reader never migrates)."""
    version = schema_version(store)
    samples = (
        store.fetch(
            "SELECT probe, ts, ok, latency_ms, healthy, detail FROM monitor_samples "
            "WHERE run_id = ? ORDER BY probe, ts",
            (run_id,),
        )  # fmt: skip
        if version >= 6
        else []
    )
    chaos = None
    if version >= 7:
        found = store.fetch("SELECT * FROM chaos_results WHERE run_id = ?", (run_id,))
        if found:
            chaos = found[0]
            chaos["passed"] = bool(chaos["passed"])
            chaos["detail"] = _json(chaos["detail"]) or {}
    return {"monitor_samples": samples, "chaos": chaos}


def _entry(
    name: str, method: str, rows: list[dict[str, Any]], duration: float | None
) -> dict[str, Any]:
    histogram, _ = histograms.merged(r["histogram"] for r in rows)
    total = sum(r["count"] for r in rows)
    return {
        "name": name,
        "method": method,
        "requests": total,
        "failures": sum(r["failures"] for r in rows),
        "rps": total / duration if duration else None,
        "avg_ms": sum(r["total_ms"] for r in rows) / total if total else None,
        "min_ms": min((r["min_ms"] for r in rows), default=None),
        "max_ms": max((r["max_ms"] for r in rows), default=None),
        **histograms.percentiles(histogram, (0.5, 0.95, 0.99)),
        "bytes": sum(r["bytes"] for r in rows),
        "items": sum(r["items"] for r in rows),
    }


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value

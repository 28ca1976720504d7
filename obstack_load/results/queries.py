"""Reading runs back from the results database: the one place run totals and percentiles are computed.

Percentiles over a run are Locust's, computed from the merged interval histograms.
"""

from __future__ import annotations

import json
from typing import Any

from obstack_load import histogram as histograms
from obstack_load.errors import ObstackLoadError
from obstack_load.results.store import Store

RUN_COLUMNS = (
    "run_id, label, profile, host, started_at, ended_at, status, exit_code, thresholds_verdict, "
    "total_requests, total_failures, dropped_rows, generator_bound, git_revision, tags"
)


class RunNotFound(ObstackLoadError, LookupError):
    pass


def list_runs(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    rows = store.fetch(f"SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at DESC LIMIT ?", (limit,))
    for row in rows:
        row["tags"] = _json(row["tags"])
        row["generator_bound"] = bool(row["generator_bound"])
    return rows


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
    rows = store.fetch(
        "SELECT method, name, count, failures, min_ms, max_ms, total_ms, bytes, items, histogram "
        "FROM request_intervals WHERE run_id = ? ORDER BY name, method",
        (run_id,),
    )
    duration = max((run["ended_at"] or run["started_at"]) - run["started_at"], 1e-9)
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
    thresholds = store.fetch(
        "SELECT expression, scope, observed, passed, detail FROM threshold_results WHERE run_id = ? ORDER BY expression, scope",
        (run_id,),
    )
    raw = store.fetch("SELECT COUNT(*) AS n FROM requests WHERE run_id = ?", (run_id,))[0]["n"]
    return {
        "run": run,
        "totals": totals,
        "requests": per_name,
        "errors": errors,
        "thresholds": thresholds,
        "raw_rows": raw,
    }


def _entry(name: str, method: str, rows: list[dict[str, Any]], duration: float) -> dict[str, Any]:
    histogram, _ = histograms.merged(r["histogram"] for r in rows)
    total = sum(r["count"] for r in rows)
    return {
        "name": name,
        "method": method,
        "requests": total,
        "failures": sum(r["failures"] for r in rows),
        "rps": total / duration,
        "avg_ms": sum(r["total_ms"] for r in rows) / total if total else None,
        "min_ms": min((r["min_ms"] for r in rows), default=None),
        "max_ms": max((r["max_ms"] for r in rows), default=None),
        **histograms.percentiles(histogram, (0.5, 0.95, 0.99)),
        "bytes": sum(r["bytes"] for r in rows),
        "items": sum(r["items"] for r in rows),
    }


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value

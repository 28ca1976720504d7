"""What the dashboard and the e-mailed report show over time: load runs with their verdicts,
and imported test suites' pass rates, durations, flaky and most-failed tests. SQL only."""

from __future__ import annotations

from dataclasses import dataclass

from obstack_load.analysis import series
from obstack_load.results.queries import shown_status, with_interval_totals
from obstack_load.results.store import Store

FAILED = "('failed', 'error')"


def load_runs(store: Store, where: series.HistoryFilter) -> list[dict]:
    """Runs oldest first, each with its p95 and requests/s over the whole run."""
    runs = series.history(store, where)
    p95 = series.run_percentiles(store, [r["run_id"] for r in runs])
    for run in runs:
        run["status"] = shown_status(run)
    with_interval_totals(store, runs)  # an abandoned run's totals from what it stored
    for run in runs:
        run["p95_ms"] = p95.get(run["run_id"], {}).get(series.TOTAL)
        run["duration_s"] = seconds = series.duration_s(run) or _to_last_interval(run)
        requests = run["total_requests"] or 0
        run["rps"] = requests / seconds if seconds else None
        run["error_rate"] = (run["total_failures"] or 0) / requests if requests else None
    return runs


def _to_last_interval(run: dict) -> float | None:
    """A run with no end: its length to its last stored interval, never zero."""
    last, started = run.get("last_interval_end"), run.get("started_at")
    return last - started if last and started and last > started else None


def labels(store: Store) -> list[dict]:
    """Each label and profile with its number of runs and its last run."""
    return store.fetch(
        "SELECT COALESCE(label, '') AS label, COALESCE(profile, '') AS profile, "
        "COUNT(*) AS runs, MAX(started_at) AS last_started FROM runs "
        "GROUP BY COALESCE(label, ''), COALESCE(profile, '') ORDER BY last_started DESC"
    )


def suite_runs(
    store: Store, suite: str | None = None, since: float | None = None, limit: int = 200
) -> list[dict]:
    """Imported test-suite runs, oldest first, with their pass rate."""
    clauses, params = [], []
    if suite is not None:
        clauses.append("suite = ?")
        params.append(suite)
    if since is not None:
        clauses.append("started_at >= ?")
        params.append(since)
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = store.fetch(
        f"SELECT * FROM test_suite_runs {where} ORDER BY started_at DESC LIMIT ?",
        (*params, limit),
    )
    for row in rows:
        ran = row["tests"] - row["skipped"]
        row["pass_rate"] = row["passed"] / ran if ran else None
    return rows[::-1]


JUNIT_VERSION = 4  # the schema version that brought test_suite_runs


def suites(store: Store) -> list[str]:
    """Suites with imported runs (none in a database from before they could be imported:
    readers never migrate)."""
    version = store.fetch("SELECT MAX(version) AS v FROM schema_migrations")[0]["v"] or 0
    if version < JUNIT_VERSION:
        return []
    rows = store.fetch("SELECT DISTINCT suite FROM test_suite_runs ORDER BY suite")
    return [r["suite"] for r in rows]


@dataclass(frozen=True)
class TestRecord:
    classname: str
    name: str
    runs: int
    passed: int
    failed: int  # failures and errors

    @property
    def test(self) -> str:
        return f"{self.classname}::{self.name}" if self.classname else self.name


def test_records(store: Store, suite: str, last_runs: int = 20) -> list[TestRecord]:
    """Each test's outcomes over the suite's last ``last_runs`` runs."""
    rows = store.fetch(
        "SELECT c.classname, c.name, COUNT(*) AS runs, "
        "SUM(CASE WHEN c.outcome = 'passed' THEN 1 ELSE 0 END) AS passed, "
        f"SUM(CASE WHEN c.outcome IN {FAILED} THEN 1 ELSE 0 END) AS failed "
        "FROM test_cases c JOIN (SELECT suite_run_id FROM test_suite_runs WHERE suite = ? "
        "ORDER BY started_at DESC LIMIT ?) recent ON recent.suite_run_id = c.suite_run_id "
        "GROUP BY c.classname, c.name",
        (suite, last_runs),
    )
    return [TestRecord(r["classname"], r["name"], r["runs"], int(r["passed"]), int(r["failed"]))
            for r in rows]  # fmt: skip


def flaky(records: list[TestRecord]) -> list[TestRecord]:
    """Tests that both passed and failed in the window: same code path, different outcome."""
    found = [r for r in records if r.passed and r.failed]
    return sorted(found, key=lambda r: (-min(r.passed, r.failed), r.test))


def most_failed(records: list[TestRecord], limit: int = 10) -> list[TestRecord]:
    return sorted((r for r in records if r.failed), key=lambda r: (-r.failed, r.test))[:limit]


def worst_endpoints(store: Store, since: float, limit: int = 10) -> list[dict]:
    """Endpoints with the highest p95 over the runs started since ``since``."""
    runs = [r["run_id"] for r in series.history(store, series.HistoryFilter(since=since))]
    merged = series.run_percentiles(store, runs)
    worst: dict[tuple[str, str], tuple[float, str]] = {}
    for run_id, by_key in merged.items():
        for key, value in by_key.items():
            if key != series.TOTAL and value is not None and value > worst.get(key, (-1, ""))[0]:
                worst[key] = (value, run_id)
    ranked = sorted(worst.items(), key=lambda item: -item[1][0])[:limit]
    return [{"method": k[0], "name": k[1], "p95_ms": v, "run_id": run} for k, (v, run) in ranked]

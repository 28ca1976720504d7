"""The database users against a real seeded PostgreSQL: every statement kind reported under its
own name, inserts counted row for row, and a tenant read that crosses tenants caught."""

from __future__ import annotations

import json

import psycopg

from tests.postgres import seeded_database
from tests.support import run_locust

KINDS = ("db insert_points", "db dashboard_query", "db analytics", "db join", "db tenant_read")


def run(tmp_path, dsn: str, *extra: str):
    summary = tmp_path / "summary.json"
    result = run_locust(
        "-f", "locustfiles/database.py", "--headless", "--only-summary", "-u", "4", "-r", "4",
        "-t", "6s", "--stop-timeout", "30", "--db-target", dsn, "--db-insert-batch", "50",
        "--arrival-rate", "10", "--summary-json", str(summary),
        "--results-db", str(tmp_path / "results.db"), *extra,
    )  # fmt: skip
    return result, json.loads(summary.read_text()) if summary.exists() else None


def points(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT COUNT(*) FROM metric_points").fetchone()[0]


def test_every_statement_kind_is_its_own_request_and_inserts_are_exact(postgres, tmp_path):
    dsn = seeded_database(postgres, "dbusers", 20_000)
    result, summary = run(tmp_path, dsn, "--threshold", "count{error=CrossTenantLeak}==0")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    by_name = {r["name"]: r for r in summary["requests"]}
    assert set(KINDS) <= set(by_name), sorted(by_name)
    assert all(by_name[k]["failures"] == 0 for k in KINDS), {k: by_name[k] for k in KINDS}
    reported = by_name["db insert_points"]["requests"] * 50
    stored = points(dsn) - 20_000
    # every reported batch is in the table, whole; a batch committed as the run stopped may be
    # there unreported (at most one per user), never part of one
    assert reported <= stored <= reported + 4 * 50 and stored % 50 == 0, (reported, stored)


def test_a_read_that_crosses_tenants_is_a_cross_tenant_leak(postgres, tmp_path):
    dsn = seeded_database(postgres, "dbleak", 20_000)
    with psycopg.connect(dsn, autocommit=True) as conn:  # the platform's mistake, on purpose
        conn.execute("ALTER TABLE metric_series DISABLE ROW LEVEL SECURITY")
    result, summary = run(tmp_path, dsn, "--threshold", "count{error=CrossTenantLeak}==0")
    assert result.returncode == 3, result.stderr[-3000:]
    leaks = [e for e in summary["errors"] if "CrossTenantLeak" in e["error"]]
    assert leaks and all(e["name"] == "db tenant_read" for e in leaks)


def test_no_database_or_a_bad_one_is_one_line_before_load(tmp_path):
    missing, _ = run(tmp_path, "")
    assert missing.returncode == 2
    assert "obstack-load: --db-target: the database users need the database to drive" in (
        missing.stderr
    )
    bad, _ = run(tmp_path, "postgresql://load:pw-9z@127.0.0.1:1/none")
    assert bad.returncode == 2 and "pw-9z" not in bad.stderr
    assert "obstack-load: --db-target: 127.0.0.1:1/none:" in bad.stderr


INDEX_GATE = "db_index_usage{table=metric_points}>0.95"


def test_an_index_usage_threshold_fails_the_run_whose_queries_scan_the_table(postgres, tmp_path):
    dsn = seeded_database(postgres, "dbindex", rows=200_000)
    indexed, summary = run(tmp_path, dsn, "--threshold", INDEX_GATE)
    assert indexed.returncode == 0, indexed.stdout[-2000:] + indexed.stderr[-3000:]
    points_figures = summary["database"]["tables"]["metric_points"]
    assert points_figures["index_scans"] > 0 and points_figures["index_usage"] > 0.95
    assert "database: index usage" in indexed.stdout

    with psycopg.connect(dsn, autocommit=True) as conn:  # the query path loses its indexes
        conn.execute("DROP INDEX metric_points_series_ts_idx")
        conn.execute("DROP INDEX metric_points_tenant_ts_idx")
    scanning, summary = run(tmp_path, dsn, "--threshold", INDEX_GATE)
    assert scanning.returncode == 3, scanning.stdout[-2000:] + scanning.stderr[-3000:]
    gate = next(r for r in summary["thresholds"]["results"] if r["expression"] == INDEX_GATE)
    assert gate["level"] == "fail" and gate["observed"] < 0.95
    assert summary["database"]["tables"]["metric_points"]["seq_scans"] > 0

"""The results plugin in real Locust runs: every request lands in the database, distributed or not,
through a database outage, and without a secret in sight."""

from __future__ import annotations

import json
import time

import pytest

from obstack_load.results.store import open_store
from tests.support import (
    CORRECTNESS_ONLY,
    free_port,
    run_locust,
    run_master_and_workers,
    start_locust,
    wait_for,
)

SMOKE = ("--config", "config/smoke.conf", "--html", "", "--csv", "", *CORRECTNESS_ONLY)


def summary_of(path) -> dict:
    return json.loads(path.read_text())


def counts(target: str, run_id: str) -> dict:
    store = open_store(target)
    try:
        one = lambda sql: store.fetch(sql, (run_id,))[0]  # noqa: E731
        return {
            "raw": one("SELECT COUNT(*) AS n FROM requests WHERE run_id = ?")["n"],
            "raw_failures": one(
                "SELECT COUNT(*) AS n FROM requests WHERE run_id = ? AND NOT success"
            )["n"]
            if store.dialect == "postgresql"
            else one("SELECT COUNT(*) AS n FROM requests WHERE run_id = ? AND success = 0")["n"],
            "intervals": one(
                "SELECT COALESCE(SUM(count), 0) AS n FROM request_intervals WHERE run_id = ?"
            )["n"],
            "run": one("SELECT * FROM runs WHERE run_id = ?"),
            "system_nodes": {
                r["node"]
                for r in store.fetch(
                    "SELECT DISTINCT node FROM system_metrics WHERE run_id = ? AND role <> 'target'",
                    (run_id,),
                )
            },
            # the target's CPU and memory, read through its /metrics (figures/sampler.py)
            "target_samples": one(
                "SELECT COUNT(*) AS n FROM system_metrics WHERE run_id = ? AND role = 'target'"
            )["n"],
        }
    finally:
        store.close()


def wait_until_writing(dsn: str) -> None:
    """Readiness: request rows are in the database, so the writer is connected and writing."""

    def written() -> bool:
        try:
            store = open_store(dsn)
        except Exception:
            return False
        try:
            return store.fetch("SELECT COUNT(*) AS n FROM requests")[0]["n"] > 0
        except Exception:
            return False
        finally:
            store.close()

    wait_for(written, timeout=60, interval=0.2)


def assert_complete(summary: dict, target: str) -> dict:
    run_id = summary["results"]["run_id"]
    found = counts(target, run_id)
    total = summary["totals"]["requests"]
    assert total > 50
    assert found["raw"] == total, found
    assert found["intervals"] == total, found
    assert found["run"]["total_requests"] == total
    assert found["run"]["status"] == "finished" and found["run"]["exit_code"] == 0
    assert found["run"]["dropped_rows"] == 0
    assert summary["results"]["dropped_rows"] == 0 and summary["results"]["rows_not_written"] == 0
    return found


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_standalone_rows_equal_locust_total(backend, platform, tmp_path, request):
    target = (
        str(tmp_path / "results.db")
        if backend == "sqlite"
        else request.getfixturevalue("postgres").dsn
    )
    summary_path = tmp_path / "summary.json"
    result = run_locust(
        *SMOKE, "--host", platform.url, "--run-time", "8s", "--users", "8", "--spawn-rate", "8",
        "--results-db", target, "--results-requests", "all", "--run-label", "e2e", "--run-tag", "suite=pytest",
        "--summary-json", str(summary_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = summary_of(summary_path)
    found = assert_complete(summary, target)
    run = found["run"]
    assert run["label"] == "e2e" and run["profile"] == "smoke"
    tags = run["tags"] if isinstance(run["tags"], dict) else json.loads(run["tags"])
    assert tags == {"suite": "pytest"}
    assert found["system_nodes"] == {"standalone"}
    assert found["target_samples"] >= 2  # a 10 s run, sampled every 2 s

    # the per-name percentiles stored equal Locust's own
    store = open_store(target)
    try:
        from obstack_load.results.queries import run_report

        report = run_report(store, summary["results"]["run_id"])
    finally:
        store.close()
    ours = {(e["method"], e["name"]): e for e in report["requests"]}
    for entry in summary["requests"]:
        mine = ours[(entry["method"], entry["name"])]
        assert mine["requests"] == entry["requests"]
        assert (mine["p50_ms"], mine["p95_ms"], mine["p99_ms"]) == (
            entry["p50_ms"],
            entry["p95_ms"],
            entry["p99_ms"],
        )


def test_master_and_two_workers_into_postgres(platform, postgres, tmp_path):
    summary_path = tmp_path / "summary.json"
    result = run_master_and_workers(
        [
            *SMOKE, "--host", platform.url, "--run-time", "10s", "--users", "8", "--spawn-rate", "8",
            "--results-db", postgres.dsn, "--results-requests", "all", "--summary-json", str(summary_path),
        ],
        ["-f", "locustfiles/smoke.py"],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = summary_of(summary_path)
    found = assert_complete(summary, postgres.dsn)
    nodes = found["system_nodes"]
    assert "master" in nodes and len(nodes - {"master"}) == 2, (
        nodes
    )  # both workers' CPU was recorded


def test_postgres_down_for_10_seconds_loses_no_row(platform, tmp_path):
    from tests.postgres import start_postgres

    server = start_postgres()
    summary_path = tmp_path / "summary.json"
    locust = start_locust(
        *SMOKE, "--host", platform.url, "--run-time", "30s", "--users", "6", "--spawn-rate", "6",
        "--results-db", server.dsn, "--results-requests", "all", "--summary-json", str(summary_path),
    )  # fmt: skip
    try:
        wait_until_writing(server.dsn)
        server.stop("immediate")
        time.sleep(10)  # the outage under test: ten seconds without a database
        server.start()
        out, err = locust.communicate(timeout=300)
        assert locust.returncode == 0, err[-3000:]
        assert "database unavailable, buffering" in err
        summary = summary_of(summary_path)
        assert_complete(summary, server.dsn)
    finally:
        if locust.poll() is None:
            locust.kill()
        server.stop("immediate")


def test_rows_past_the_buffer_bound_are_counted_and_reported(platform, tmp_path):
    from tests.postgres import start_postgres

    server = start_postgres()
    summary_path = tmp_path / "summary.json"
    locust = start_locust(
        *SMOKE, "--host", platform.url, "--run-time", "20s", "--users", "6", "--spawn-rate", "6",
        "--results-db", server.dsn, "--results-requests", "all", "--results-buffer-rows", "20",
        "--summary-json", str(summary_path),
    )  # fmt: skip
    try:
        wait_until_writing(server.dsn)
        server.stop("immediate")
        time.sleep(8)
        server.start()
        out, err = locust.communicate(timeout=300)
        assert locust.returncode == 5, err[-3000:]  # results-incomplete: rows were dropped
        summary = summary_of(summary_path)
        assert summary["results"]["status"] == "results-incomplete"
        dropped = summary["results"]["dropped_rows"]
        assert dropped > 0
        assert "DROPPED" in out and "DROPPED" in err
        found = counts(server.dsn, summary["results"]["run_id"])
        assert found["run"]["dropped_rows"] == dropped
        # nothing vanished silently: what was kept plus what was counted as dropped is everything
        assert found["raw"] + dropped == summary["totals"]["requests"]
        assert found["intervals"] == summary["totals"]["requests"], "aggregates are never dropped"
    finally:
        if locust.poll() is None:
            locust.kill()
        server.stop("immediate")


def test_unreachable_database_fails_before_any_load(tmp_path):
    result = run_locust(
        *SMOKE, "--host", "http://127.0.0.1:9", "--run-time", "5s",
        "--results-db", f"postgresql://load:Top-Secret-1@127.0.0.1:{free_port()}/results",
    )  # fmt: skip
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("obstack-load:")]
    assert len(lines) == 1 and "cannot connect" in lines[0], result.stderr
    assert "Top-Secret-1" not in result.stderr + result.stdout
    assert "Ramping" not in result.stderr + result.stdout


def test_no_secret_reaches_database_logs_or_output(platform, postgres, tenants, tmp_path):
    from tests.postgres import PASSWORD

    summary_path = tmp_path / "summary.json"
    result = run_locust(
        *SMOKE, "--host", platform.url, "--run-time", "5s", "--results-db", postgres.dsn,
        "--results-requests", "all", "--summary-json", str(summary_path), "--loglevel", "DEBUG",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    secrets = [PASSWORD, *tenants.secrets()]
    output = result.stdout + result.stderr + summary_path.read_text()
    assert not [s for s in secrets if s in output]
    store = open_store(postgres.dsn)
    try:
        dump = ""
        for table in (
            "runs",
            "requests",
            "request_intervals",
            "errors",
            "user_counts",
            "system_metrics",
            "threshold_results",
        ):
            dump += json.dumps(store.fetch(f"SELECT * FROM {table}"), default=str)
    finally:
        store.close()
    assert summary_of(summary_path)["results"]["run_id"] in dump
    assert not [s for s in secrets if s in dump]
    assert "postgresql://obstack:***@" in dump, (
        "the redacted DSN is kept, so the run says where it went"
    )

"""The platform's connection pool as a run's figures: an API run against the platform on
PostgreSQL reports pool utilisation, efficiency and per-kind statement latencies, and a pool
threshold gates the exit code both ways."""

from __future__ import annotations

import pytest

from tests.support import run_headless, start_platform


@pytest.fixture(scope="module")
def platform_on_postgres(postgres):
    running = start_platform("--db", postgres.database("pool_figures"), "--db-pool-size", "4")
    yield running
    assert running.stop() == 0, "".join(running.output)


def api_run(tmp_path, platform, *thresholds: str):
    return run_headless(
        tmp_path, platform, "-u", "4", "-r", "4", "-t", "5s", *thresholds,
        locustfile="locustfiles/api.py",
    )  # fmt: skip


def test_pool_figures_are_measured_over_the_run_and_gate_it(platform_on_postgres, tmp_path):
    passing, summary = api_run(
        tmp_path / "pass", platform_on_postgres,
        "--threshold", "db_pool_utilization<0.8", "--threshold", "db_pool_efficiency>0.5",
    )  # fmt: skip
    assert passing.returncode == 0, passing.stdout[-2000:] + passing.stderr[-3000:]
    pool = summary["database"]["pool"]
    assert pool["size"] == 4 and pool["requests"] > 0 and pool["errors"] == 0
    assert 0 < pool["utilization"] < 1 and 0 <= pool["efficiency"] <= 1
    assert pool["statements"]["session"]["count"] > 0  # every API request checks its session
    assert "database pool: 4 connections, utilisation" in passing.stdout + passing.stderr

    failing, summary = api_run(
        tmp_path / "fail", platform_on_postgres, "--threshold", "db_pool_utilization<0"
    )
    assert failing.returncode == 3, failing.stdout[-2000:] + failing.stderr[-3000:]
    verdicts = {r["expression"]: r["level"] for r in summary["thresholds"]["results"]}
    assert verdicts == {"db_pool_utilization<0": "fail"}


def test_an_in_memory_platform_has_no_pool_figures(platform, tmp_path):
    result, summary = api_run(tmp_path, platform)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "database" not in summary

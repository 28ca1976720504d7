"""The health monitor beside a run, while the platform's database goes away and comes back:
/readyz turns unhealthy and recovers; /healthz never fails; the end-to-end probe (a log record
ingested and read back) keeps passing, since logs live in memory and the credentials it
already used stay valid while the database is away; and every probe is stored with the run. The platform's own request counts say when the monitor's probes
have reached it, so nothing here waits on a guess."""

from __future__ import annotations

import json
import signal
import sqlite3
import time

from tests.support import answered, start_locust, start_platform, wait_for


def monitored_run(platform, tmp_path):
    return start_locust(
        "-f", "locustfiles/probe.py", "--headless", "--host", platform.url, "-u", "1",
        "-r", "1", "-t", "5m", "--monitor", "--summary-json", str(tmp_path / "summary.json"),
        "--results-db", str(tmp_path / "results.db"), "--only-summary",
        "--monitor-series", "process_resident_memory_bytes",
        "--monitor-series", "obstack_db_write_queue_points",
    )  # fmt: skip


def test_the_monitor_sees_the_database_go_and_come_back(postgres, tenants, tmp_path):
    dsn = postgres.database("monitored")
    platform = start_platform("--db", dsn, "--db-pool-timeout", "0.5", "--db-pool-size", "4")
    key = tenants.tenants[0].api_key
    locust = None
    try:
        locust = monitored_run(platform, tmp_path)
        wait_for(lambda: answered(platform.url, key, "readyz", "200") >= 3, timeout=120)
        fault_at = time.time()
        postgres.take_away("monitored")
        wait_for(lambda: answered(platform.url, key, "readyz", "503") >= 5, timeout=120)
        restored_at = time.time()  # before the restore: no probe can pass before this
        postgres.give_back("monitored")
        ready, read_back = (
            answered(platform.url, key, h, "200") for h in ("readyz", "logs_search")
        )
        wait_for(lambda: answered(platform.url, key, "readyz", "200") >= ready + 3, timeout=120)
        wait_for(lambda: answered(platform.url, key, "logs_search", "200") >= read_back + 3,
                 timeout=120)  # fmt: skip
        locust.send_signal(signal.SIGTERM)  # the run's record is finalised as interrupted
        out, err = locust.communicate(timeout=120)
    finally:
        if locust is not None and locust.poll() is None:
            locust.kill()
        assert platform.stop() == 0, "".join(platform.output)
    summary = json.loads((tmp_path / "summary.json").read_text())
    monitor = summary["monitor"]
    for probe in ("healthz", "e2e"):  # degraded, not down: tokens and keys in use stay valid
        assert monitor[probe]["unhealthy_periods"] == [], (probe, out[-2000:] + err[-2000:])
    periods = monitor["readyz"]["unhealthy_periods"]
    assert len(periods) == 1, monitor["readyz"]
    # it cannot have seen the outage before the fault, nor its end before the restore
    assert periods[0]["start"] >= fault_at and periods[0]["end"] >= restored_at
    assert monitor["readyz"]["healthy_at_end"]
    with sqlite3.connect(tmp_path / "results.db") as conn:
        stored = dict(conn.execute(
            "SELECT probe, COUNT(*) FROM monitor_samples GROUP BY probe"
        ).fetchall())  # fmt: skip
        failed = conn.execute(
            "SELECT COUNT(*) FROM monitor_samples WHERE probe = 'readyz' AND ok = 0"
        ).fetchone()[0]
        memory = [v for (v,) in conn.execute(
            "SELECT value FROM monitor_samples WHERE probe = 'series:process_resident_memory_bytes'"
        )]  # fmt: skip
    series = summary["monitor_series"]
    health = {p: n for p, n in stored.items() if not p.startswith("series:")}
    assert health == {p: monitor[p]["samples"] for p in ("healthz", "readyz", "e2e")}
    assert failed == monitor["readyz"]["failures"] >= 3
    assert "monitor readyz:" in out
    # the target's own series, every interval the target answered /metrics (not while away)
    assert len(memory) == series["process_resident_memory_bytes"]["samples"] > 0
    assert all(v > 10 * 2**20 for v in memory), "a Python process holds more than 10 MiB"
    assert series["obstack_db_write_queue_points"]["min"] == 0


def test_a_platform_that_never_recovers_is_still_unhealthy_at_the_end(postgres, tenants, tmp_path):
    dsn = postgres.database("never")
    platform = start_platform("--db", dsn, "--db-pool-timeout", "0.5", "--test-never-recover")
    key = tenants.tenants[0].api_key
    locust = None
    try:
        locust = monitored_run(platform, tmp_path)
        wait_for(lambda: answered(platform.url, key, "readyz", "200") >= 3, timeout=120)
        postgres.take_away("never")
        wait_for(lambda: answered(platform.url, key, "readyz", "503") >= 3, timeout=120)
        postgres.give_back("never")
        failing = answered(platform.url, key, "readyz", "503")
        # the database is back; the platform is not: its readiness keeps failing
        wait_for(lambda: answered(platform.url, key, "readyz", "503") >= failing + 5, timeout=120)
        locust.send_signal(signal.SIGTERM)
        out, err = locust.communicate(timeout=120)
    finally:
        if locust is not None and locust.poll() is None:
            locust.kill()
        assert platform.stop() == 0, "".join(platform.output)
    readyz = json.loads((tmp_path / "summary.json").read_text())["monitor"]["readyz"]
    assert not readyz["healthy_at_end"] and readyz["unhealthy_periods"][-1]["end"] is None
    assert "monitor readyz:" in out and "(still unhealthy at the end)" in out

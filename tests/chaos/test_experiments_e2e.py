"""Every ready experiment in config/chaos/, run as a user runs it (``obstack-load chaos run``)
against real processes: the platform on its own PostgreSQL (started by the tests), supervised
by ``obstack-load supervise``, behind the fault proxy on both sides (load to platform, platform to
database), and Locust. Each must pass, print its verdict, recovery time and data lost, and
store them; the platform that never recovers must fail with one line naming the probe.

Only correctness is asserted: the verdict, that no accepted point was lost, and that a recovery
is never measured before it can have happened (a platform that takes 5 s to listen again cannot
recover in under 5 s). How close the measure comes to the truth is a benchmark
(benchmarks/chaos_recovery.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.chaos.rig import chaos_run, start_rig

STARTUP_DELAY_S = 5.0


def stored(tmp_path: Path) -> dict:
    with sqlite3.connect(tmp_path / "results.db") as conn:
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("SELECT * FROM chaos_results")]
    assert len(rows) == 1
    return rows[0]


def assert_passed(code: int, output: str, chaos: dict, tmp_path: Path) -> None:
    assert code == 0 and chaos["passed"], (chaos["reason"], output[-5000:])
    assert "chaos verdict: PASSED; recovery time" in output
    assert chaos["recovery_s"] is not None and chaos["recovery_s"] >= 0
    assert chaos["data"]["accepted"] > 0 and chaos["data"]["lost"] == 0, chaos["data"]
    assert chaos["score"] == 100.0
    row = stored(tmp_path)
    assert row["passed"] == 1 and row["data_lost"] == 0 and row["recovery_s"] == chaos["recovery_s"]
    assert row["data_accepted"] == chaos["data"]["accepted"]


@pytest.mark.parametrize(
    "experiment",
    ["database-down", "database-latency", "network-partition", "slow-link", "ingestion-503-storm"],
)
def test_a_ready_experiment_passes_on_a_platform_that_recovers(
    postgres, tmp_path, experiment
):  # fmt: skip
    rig = start_rig(postgres, f"chaos_{experiment.replace('-', '_')}", tmp_path)
    try:
        code, output, chaos = chaos_run(rig, experiment, tmp_path)
    finally:
        rig.stop()
    assert_passed(code, output, chaos, tmp_path)
    # the fault was really on: something was unhealthy or failed while it was
    assert chaos["fault_on_at"] < chaos["fault_off_at"]
    checks = {c["name"]: c["passed"] for c in chaos["checks"]}
    assert checks["steady state before the fault"] and checks["no accepted data lost"]


def test_the_platform_killed_and_restarted_recovers_no_sooner_than_it_listens(postgres, tmp_path):
    rig = start_rig(
        postgres, "chaos_killed", tmp_path, "--test-startup-delay", str(STARTUP_DELAY_S)
    )
    try:
        code, output, chaos = chaos_run(rig, "platform-killed", tmp_path)
    finally:
        rig.stop()
    assert_passed(code, output, chaos, tmp_path)
    happened = [what for what, _ in rig.supervised()]
    assert happened == ["started", "ready", "exited with -9", "started", "ready"], rig.log()
    # it cannot be back before the new process listens, STARTUP_DELAY_S after the kill
    assert chaos["recovery_s"] >= STARTUP_DELAY_S
    assert chaos["probe_recovery_s"]["readyz"] >= STARTUP_DELAY_S


def test_a_platform_that_never_recovers_fails_naming_the_probe(postgres, tmp_path):
    rig = start_rig(postgres, "chaos_never", tmp_path, "--test-never-recover")
    try:
        code, output, chaos = chaos_run(rig, "database-down", tmp_path)
    finally:
        rig.stop()
    assert code == 8, output[-5000:]
    assert not chaos["passed"]
    assert "readyz" in chaos["reason"] and "did not recover within the 30 s" in chaos["reason"]
    assert chaos["probe_recovery_s"]["readyz"] is None
    line = next(x for x in output.splitlines() if "chaos verdict: FAILED" in x)
    assert "readyz" in line
    row = stored(tmp_path)
    assert row["passed"] == 0 and "readyz" in row["reason"]

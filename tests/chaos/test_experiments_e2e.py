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

import json
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from obstack_load.platform.server import READY_LINE
from tests.support import REPO, free_port, start_process, wait_until_healthy

CHAOS_TIMEOUT_S = 600
STARTUP_DELAY_S = 5.0


@dataclass
class Rig:
    """The platform (supervised, on PostgreSQL) with the fault proxy on both of its sides."""

    host: str  # the platform through the proxy: what the load targets
    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)
    outputs: list[list[str]] = field(default_factory=list)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()

    def log(self) -> str:
        return "".join(line for output in self.outputs for line in output)[-4000:]


def start_rig(postgres, name: str, tmp_path: Path, *platform_args: str) -> Rig:
    dsn = postgres.database(name)
    db_listen, platform_listen, platform_port = free_port(), free_port(), free_port()
    cli = [sys.executable, "-m", "obstack_load.cli"]
    proxy, proxy_output, line = start_process([
        *cli, "proxy", "--port", "0",
        "--proxy", f"postgres=127.0.0.1:{db_listen}=127.0.0.1:{postgres.port}",
        "--proxy", f"platform=127.0.0.1:{platform_listen}=127.0.0.1:{platform_port}",
    ], "obstack-load proxy API on")  # fmt: skip
    rig = Rig(f"http://127.0.0.1:{platform_listen}", {}, [proxy], [proxy_output])
    pidfile, fault_file = tmp_path / "platform.pid", tmp_path / "fault"
    rig.env = {
        "TOXIPROXY_URL": line.split(" on ", 1)[1].strip(),
        "OBSTACK_PLATFORM_PIDFILE": str(pidfile),
        "OBSTACK_FAULT_FILE": str(fault_file),
    }
    try:
        supervisor, supervisor_output, _ = start_process([
            *cli, "supervise", "--pidfile", str(pidfile), "--",
            *cli, "platform", "--port", str(platform_port),
            "--db", dsn.replace(f":{postgres.port}/", f":{db_listen}/"),
            "--db-pool-timeout", "1", "--test-fault-file", str(fault_file), *platform_args,
        ], READY_LINE)  # fmt: skip
        rig.processes.append(supervisor)
        rig.outputs.append(supervisor_output)
        wait_until_healthy(rig.host, deadline=10**12)
    except BaseException:
        rig.stop()
        raise
    return rig


def chaos_run(rig: Rig, experiment: str, tmp_path: Path) -> tuple[int, str, dict]:
    summary = tmp_path / "summary.json"
    done = subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", "chaos", "run", f"config/chaos/{experiment}.yaml",
         "--host", rig.host, "--results-db", str(tmp_path / "results.db"),
         "--summary-json", str(summary), "--", "--html", str(tmp_path / "report.html")],
        cwd=REPO, env={**__import__("os").environ, **rig.env}, capture_output=True, text=True,
        timeout=CHAOS_TIMEOUT_S,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert summary.exists(), output[-5000:]
    return done.returncode, output, json.loads(summary.read_text())["chaos"]


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
    assert "obstack supervise: exited with -9" in rig.log()
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

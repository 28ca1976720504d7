"""A rig for chaos experiments: the platform on its own PostgreSQL database, supervised by
``obstack-load supervise`` (which restarts it when killed), behind the fault proxy on both of
its sides (load to platform: ``platform``; platform to database: ``postgres``), and the
experiment run as a user runs it, ``obstack-load chaos run``. The end-to-end tests and
benchmarks/chaos_recovery.py share it.

The tests assert only correctness, never timings: the verdict, that no accepted point was
lost, and that a recovery is never measured before it can have happened. The experiments are
split over three modules so that the test shards run them side by side."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from obstack_load.chaos.stack import ReferenceStack
from tests.support import REPO

CHAOS_TIMEOUT_S = 600


class Rig(ReferenceStack):
    """The reference stack on the tests' shared PostgreSQL, with the platform's output kept."""

    @property
    def processes(self) -> list[subprocess.Popen]:
        return [started.process for started in self.started]  # the proxy first

    def supervised(self) -> list[tuple[str, float]]:
        """What ``obstack-load supervise`` said happened to the platform, and when (unix s)."""
        out = []
        for line in self.started[-1].output:
            if line.startswith("obstack supervise: "):
                what, _, at = line.removeprefix("obstack supervise: ").rpartition(" at ")
                out.append((what.split(" (pid")[0], float(at)))
        return out

    def log(self) -> str:
        return "".join(line for started in self.started for line in started.output)[-4000:]


def start_rig(postgres, name: str, tmp_path: Path, *platform_args: str) -> Rig:
    """The stack ``obstack-load chaos run`` brings up without --host, on a new database of the
    session's server (no initdb per test)."""
    rig = Rig(postgres.database(name), platform_args)
    rig.start()
    return rig


def chaos_run(rig: Rig, experiment: str, tmp_path: Path) -> tuple[int, str, dict]:
    summary = tmp_path / "summary.json"
    done = subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", "chaos", "run", f"config/chaos/{experiment}.yaml",
         "--host", rig.host, "--results-db", str(tmp_path / "results.db"),
         "--summary-json", str(summary), "--", "--html", str(tmp_path / "report.html")],
        cwd=REPO, env={**os.environ, **rig.env}, capture_output=True, text=True,
        timeout=CHAOS_TIMEOUT_S,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert summary.exists(), output[-5000:]
    return done.returncode, output, json.loads(summary.read_text())["chaos"]


def story(output: str) -> str:
    """The run's own account of itself, without Locust's tables: the experiment's log lines
    and the summary's (how the run ended, what the verdict found)."""
    told = [
        line
        for line in output.splitlines()
        if any(word in line for word in ("chaos", "steady", "obstack-load", "ended", "exit"))
    ]
    return "\n".join(told[-80:])


def stored(tmp_path: Path) -> dict:
    with sqlite3.connect(tmp_path / "results.db") as conn:
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("SELECT * FROM chaos_results")]
    assert len(rows) == 1
    return rows[0]


def assert_passed(code: int, output: str, chaos: dict, tmp_path: Path) -> None:
    assert code == 0 and chaos["passed"], (chaos["reason"], story(output), output[-3000:])
    assert "chaos verdict: PASSED; recovery time" in output
    assert chaos["recovery_s"] is not None and chaos["recovery_s"] >= 0
    assert chaos["data"]["accepted"] > 0 and chaos["data"]["lost"] == 0, chaos["data"]
    assert chaos["score"] == 100.0
    row = stored(tmp_path)
    assert row["passed"] == 1 and row["data_lost"] == 0 and row["recovery_s"] == chaos["recovery_s"]
    assert row["data_accepted"] == chaos["data"]["accepted"]


def passes_and_recovers(postgres, tmp_path: Path, experiment: str) -> None:
    """A ready experiment on a platform that recovers: it passes, loses nothing, and the fault
    was really on."""
    rig = start_rig(postgres, f"chaos_{experiment.replace('-', '_')}", tmp_path)
    try:
        code, output, chaos = chaos_run(rig, experiment, tmp_path)
    finally:
        rig.stop()
    assert_passed(code, output, chaos, tmp_path)
    assert chaos["fault_on_at"] < chaos["fault_off_at"]
    checks = {c["name"]: c["passed"] for c in chaos["checks"]}
    assert checks["steady state before the fault"] and checks["no accepted data lost"]

"""The platform killed and restarted passes no sooner than its new process listens, and the
platform that never recovers fails with one line naming the probe (tests/chaos/rig.py says how
the experiments are run; how close a measured recovery comes to the truth is
benchmarks/chaos_recovery.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.chaos.rig import assert_passed, chaos_run, start_rig, stored
from tests.support import REPO

ARTIFACTS = REPO / "results" / "test-artifacts"

STARTUP_DELAY_S = 5.0


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
    # the run's report shows the verdict and the monitor's probes over time, in Chromium
    report = ARTIFACTS / "chaos-report.html"
    done = subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", "report", "latest", "--html", str(report),
         "--results-db", str(tmp_path / "results.db")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    html = report.read_text()
    assert "Chaos experiment" in html and row["reason"] in html and "did not recover" in html
    screenshot = ARTIFACTS / "chaos-report.png"
    shown = subprocess.run(
        [sys.executable, str(REPO / "tests" / "browser.py"), "--offline", str(report),
         str(screenshot)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    labels = {c["label"] for c in json.loads(shown.stdout)["charts"]}
    assert "Health monitor: probe healthy (1) or not (0)" in labels
    assert screenshot.stat().st_size > 10_000

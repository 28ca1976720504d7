"""Thresholds gate real runs: `locust --config config/smoke.conf` passes or fails the build."""

from __future__ import annotations

import json

from obstack_load.results.store import open_store
from obstack_load.thresholds.plugin import EXIT_ABORTED, EXIT_BREACH
from tests.support import CORRECTNESS_ONLY, run_locust

FAST = ("--run-time", "6s", "--users", "4", "--spawn-rate", "4", "--html", "", "--csv", "")


def smoke(platform, tmp_path, *extra: str):
    summary = tmp_path / "summary.json"
    db = tmp_path / "results.db"
    result = run_locust(
        "--config", "config/smoke.conf", "--host", platform.url, *FAST,
        "--summary-json", str(summary), "--results-db", str(db), *extra,
    )  # fmt: skip
    return result, json.loads(summary.read_text()) if summary.exists() else None, str(db)


def test_loose_threshold_exits_0_and_tight_one_fails_the_build(platform, tmp_path):
    loose, summary, db = smoke(
        platform, tmp_path, "--threshold", "p(95)<60000", "--threshold", "rate<0.5"
    )
    # The profile's latency gate (p(95)<200) is evaluated too, and a slow machine may miss it:
    # the exit code must agree with the verdicts, and the loose ones must pass.
    results = {r["expression"]: r["passed"] for r in summary["thresholds"]["results"]}
    assert results["p(95)<60000"] and results["rate<0.5"]
    expected = 0 if all(results.values()) else EXIT_BREACH
    assert loose.returncode == expected, loose.stderr[-2000:]
    assert summary["thresholds"]["verdict"] == ("passed" if expected == 0 else "failed")
    # the profile's own thresholds file (config/thresholds/smoke.yaml) is evaluated too
    assert {r["expression"] for r in summary["thresholds"]["results"]} >= {
        "p(95)<200",
        "rate<0.01",
        "p(95)<60000",
    }

    tight, summary, db = smoke(platform, tmp_path, "--threshold", "p(50){name=/v1/logs}<0.001")
    assert tight.returncode == EXIT_BREACH, tight.stderr[-2000:]
    failed = [r for r in summary["thresholds"]["results"] if not r["passed"]]
    # the profile's latency gate may fail too on a slow machine (CI), as above
    assert "p(50){name=/v1/logs}<0.001" in [r["expression"] for r in failed]
    assert {r["expression"] for r in failed} <= {"p(50){name=/v1/logs}<0.001", "p(95)<200"}
    assert "FAIL   p(50){name=/v1/logs}<0.001" in tight.stdout
    run, stored = _latest_run(db)
    assert run["thresholds_verdict"] == "failed" and run["exit_code"] == EXIT_BREACH
    assert stored["p(50){name=/v1/logs}<0.001"] == "fail"


def test_abort_on_fail_stops_the_run_early(platform, tmp_path):
    result, summary, _ = smoke(
        platform, tmp_path, "--run-time", "300s", "--threshold", "max<0.0001",
        "--threshold-abort-on-fail", "--threshold-abort-delay", "2", "--threshold-check-interval", "1",
    )  # fmt: skip
    # a 300 s run that ends with exit code 4 can only have been stopped by the gate
    assert result.returncode == EXIT_ABORTED, result.stderr[-2000:]
    assert summary["thresholds"]["verdict"] == "aborted"
    # the profile's latency gate (p(95)<200) aborts too when a slow machine misses it (CI did)
    aborted_by = summary["thresholds"]["aborted_by"]
    assert "max<0.0001" in aborted_by and set(aborted_by) <= {"max<0.0001", "p(95)<200"}
    aborted_line = next(line for line in result.stdout.splitlines() if "run ABORTED by: " in line)
    assert "max<0.0001" in aborted_line


def test_bad_threshold_is_one_line_before_load(platform, tmp_path):
    result, summary, _ = smoke(platform, tmp_path, "--threshold", "p(95)<<500")
    assert result.returncode == 2
    assert summary is None
    lines = [line for line in result.stderr.splitlines() if line.startswith("obstack-load:")]
    assert lines == [
        "obstack-load: --threshold: threshold 'p(95)<<500': expected METRIC[{scope=value}] OP NUMBER [warn OP NUMBER], e.g. p(95)<500, rate<0.01, p(99){name=/api/x}<800, p(95)<1000 warn<500"
    ]
    bad_file = tmp_path / "t.yaml"
    bad_file.write_text("thresholds:\n  - rate<0.01\n  - p(95)<fast\n")
    result, _, _ = smoke(platform, tmp_path, "--thresholds-file", str(bad_file))
    assert result.returncode == 2
    assert f"obstack-load: {bad_file}: thresholds[1]: threshold 'p(95)<fast'" in result.stderr


def test_ci_profile_runs_for_real_and_its_exit_code_follows_its_verdicts(platform, tmp_path):
    summary_path = tmp_path / "ci.json"
    result = run_locust(
        "--config", "config/ci.conf", "--host", platform.url, "--summary-json", str(summary_path),
        "--html", str(tmp_path / "ci.html"), "--csv", str(tmp_path / "ci"), "--results-db", str(tmp_path / "r.db"),
    )  # fmt: skip
    summary = json.loads(summary_path.read_text())
    results = {r["expression"]: r["passed"] for r in summary["thresholds"]["results"]}
    assert len(results) == 5
    # correctness holds on any machine; the latency SLOs (p(95)<200, p(99)<500) may not on a
    # loaded one, and then the run must say so: failed (3), or aborted (4) mid-run
    for correct in ("rate<0.01", "count{error=CrossTenantLeak}==0", "items{signal=logs}>0"):
        assert results[correct], summary["thresholds"]
    verdict = summary["thresholds"]["verdict"]
    expected = {"passed": 0, "failed": EXIT_BREACH, "aborted": EXIT_ABORTED}[verdict]
    assert verdict == "passed" or not all(results.values()) or summary["thresholds"]["aborted_by"]
    assert result.returncode == expected, result.stdout[-3000:] + result.stderr[-2000:]
    assert summary["totals"]["failures"] == 0


def _latest_run(db: str) -> tuple[dict, dict[str, str]]:
    store = open_store(db)
    try:
        run = store.fetch(
            "SELECT run_id, thresholds_verdict, exit_code FROM runs ORDER BY started_at DESC LIMIT 1"
        )[0]
        rows = store.fetch(
            "SELECT expression, level FROM threshold_results WHERE run_id = ?", (run["run_id"],)
        )
    finally:
        store.close()
    return run, {r["expression"]: r["level"] for r in rows}


def test_a_warning_is_reported_everywhere_and_fails_the_build_only_when_asked(platform, tmp_path):
    expression = "p(95)<60000 warn<0.001"  # passes its failing bound, never its warning bound
    warned, summary, db = smoke(platform, tmp_path, *CORRECTNESS_ONLY, "--threshold", expression)
    assert warned.returncode == 0, warned.stdout[-2000:] + warned.stderr[-2000:]
    assert summary["thresholds"]["verdict"] == "warning"
    levels = {r["expression"]: r["level"] for r in summary["thresholds"]["results"]}
    assert levels[expression] == "warn" and set(levels.values()) == {"pass", "warn"}
    assert f"WARN   {expression}" in warned.stdout  # the table
    assert f"thresholds WARNING: {len(levels)}/{len(levels)} passed; warning: {expression}" in (
        warned.stdout
    )  # the summary
    run, stored = _latest_run(db)
    assert (run["thresholds_verdict"], run["exit_code"], stored[expression]) == (
        "warning",
        0,
        "warn",
    )

    strict, summary, db = smoke(
        platform, tmp_path, *CORRECTNESS_ONLY, "--threshold", expression,
        "--threshold-fail-on-warning",
    )  # fmt: skip
    assert strict.returncode == EXIT_BREACH, strict.stdout[-2000:] + strict.stderr[-2000:]
    assert "a warning fails the build (--threshold-fail-on-warning)" in strict.stdout
    run, stored = _latest_run(db)
    assert (run["exit_code"], stored[expression]) == (EXIT_BREACH, "warn")

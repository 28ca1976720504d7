"""Reports, comparisons and trends from real runs of real Locust processes against the real
platform, stored in real PostgreSQL and in SQLite.

Two runs per database: A against the platform as it is, B against the same platform with
``--test-slow-path /api/v1/dashboards --test-slow-ms 40``, a known regression of one endpoint.
The injected change is large so that it is certain in a short run on a noisy machine; the
power at +30% and the false-positive rate on A/A pairs are measured by
benchmarks/regression_power.py (docs/regressions.md), not asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from obstack_load.results.store import open_migrated
from tests.history import ENDPOINTS, seed_history
from tests.support import REPO, start_platform

ARTIFACTS = REPO / "results" / "test-artifacts"
SLOW = ("GET", "/api/v1/dashboards")


def cli(*args: str, db: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", *args, "--results-db", db],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def load_run(db: str, tmp_path, name: str, *platform_args: str) -> str:
    platform = start_platform(*platform_args)
    summary = tmp_path / f"{name}.json"
    try:
        done = subprocess.run(
            [
                sys.executable, "-m", "locust", "-f", "locustfiles/api.py", "--headless",
                "--host", platform.url, "-u", "20", "-r", "20", "-t", "20s", "--only-summary",
                "--results-db", db, "--results-interval", "1", "--run-label", "release",
                "--run-tag", "target_rps=10", "--summary-json", str(summary),
                "--threshold", "p(95)<60000 warn<0.001", "--threshold", "rate<0.5",
            ],
            cwd=REPO, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        platform.stop()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(summary.read_text())["results"]["run_id"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stored(request, tmp_path_factory):
    """(database, run A, run B) for each backend."""
    tmp_path = tmp_path_factory.mktemp(request.param)
    if request.param == "sqlite":
        db = str(tmp_path / "results.db")
    else:
        db = request.getfixturevalue("postgres").database("reports_e2e")
    a = load_run(db, tmp_path, "a")
    b = load_run(db, tmp_path, "b", "--test-slow-path", SLOW[1], "--test-slow-ms", "40")
    return request.param, db, a, b


def test_compare_flags_exactly_the_slowed_endpoint(stored):
    _, db, a, b = stored
    # a wide tolerance: the injected +40 ms is many times the endpoint's latency, and no other
    # endpoint may be flagged by the noise of a shared machine
    done = cli("compare", a, b, "--format", "json", "--tolerance", "50", db=db)
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    worse = {(e["method"], e["name"]) for e in result["endpoints"] if e["verdict"] == "worse"}
    assert worse == {SLOW}
    slowed = next(e for e in result["endpoints"] if (e["method"], e["name"]) == SLOW)
    assert slowed["latency"]["low"] > 0.5 and slowed["latency"]["samples"][1] >= 6
    assert result["verdict"] == "worse" and result["exit_code"] == 1

    unchanged = cli("compare", a, a, "--format", "text", db=db)  # a run against itself
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    assert "no endpoint got worse" in unchanged.stdout
    assert not [line for line in unchanged.stdout.splitlines() if line.startswith("  worse")]


def test_auto_baseline_and_the_markdown_pr_comment(stored):
    _, db, a, b = stored
    done = cli("compare", "auto", b, "--format", "markdown", "--tolerance", "50", db=db)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("### Load test: 🔴 WORSE: 1 endpoint(s)")
    assert f"Baseline `{a[:12]}" in done.stdout
    assert "| 🔴 worse | `GET /api/v1/dashboards` |" in done.stdout
    first = cli("compare", "auto", a, db=db)  # nothing passed before the first run
    assert first.returncode == 2
    assert "--baseline auto: no passing run before" in first.stderr


def test_html_report_renders_offline_in_chromium(stored):
    backend, db, a, b = stored
    out = ARTIFACTS / f"report-{backend}.html"
    done = cli("report", b, "--baseline", "auto", "--tolerance", "50", "--html", str(out), db=db)
    assert done.returncode == 0, done.stderr
    html = out.read_text()
    for fetch in ("<script", "<link", 'src="http', 'href="http', "url(http", "@import"):
        assert fetch not in html
    assert "GET /api/v1/dashboards" in html and ">worse<" in html
    assert ">warn<" in html  # the warning-level threshold, as stored
    screenshot = ARTIFACTS / f"report-{backend}.png"
    shown = subprocess.run(
        [sys.executable, str(REPO / "tests" / "browser.py"), "--offline", str(out), str(screenshot)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    page = json.loads(shown.stdout)
    assert page["attempted"] == []  # nothing tried to leave the file
    labels = {c["label"] for c in page["charts"]}
    assert {"Response time, all requests", "Requests/s and users", "Failures/s"} <= labels
    assert any(label.startswith("CPU") for label in labels)
    assert all(c["width"] > 300 and c["height"] > 100 and c["paths"] > 10 for c in page["charts"])
    assert screenshot.stat().st_size > 10_000


def test_trends_find_the_seeded_step_and_nothing_in_a_flat_history(stored):
    backend, db, a, b = stored
    store = open_migrated(db)
    try:
        step = seed_history(
            store, [100.0] * 20 + [120.0] * 10, label="seeded-step", noise=0.03, seed=0
        )
        seed_history(store, [100.0] * 30, label="seeded-flat", noise=0.03, seed=0)
    finally:
        store.close()
    done = cli("trends", "--run-label", "seeded-step", "--json", db=db)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert len(found["runs"]) == 30 and found["pass_rate"] == 1.0
    assert len(found["endpoints"]) == len(ENDPOINTS) + 1  # and Aggregated
    for endpoint in found["endpoints"]:
        points = endpoint["change_points"]
        assert [p["run_id"] for p in points] == [step[20]], endpoint["name"]
        assert 0.1 < points[0]["magnitude"] < 0.3
    flat = json.loads(cli("trends", "--run-label", "seeded-flat", "--json", db=db).stdout)
    assert [e["change_points"] for e in flat["endpoints"]] == [[]] * (len(ENDPOINTS) + 1)

    real = cli("trends", "--run-label", "release", db=db)  # the two real runs
    assert real.returncode == 0, real.stderr
    assert real.stdout.startswith("2 runs (label release): 2 passed (100%)")
    assert "GET     /api/v1/dashboards" in real.stdout

"""The dashboard over real runs and a real imported JUnit suite: the standalone pages and the
History tab inside a real Locust web UI, rendered by Debian's headless Chromium; and the weekly
report e-mailed to a real SMTP server (aiosmtpd). Numbers on the pages are checked against the
database's own."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
from email import policy
from pathlib import Path

import pytest
import requests

from obstack_load.core import histogram
from obstack_load.results.store import open_store
from tests.support import (
    CORRECTNESS_ONLY,
    REPO,
    free_port,
    run_locust,
    smtp_server,
    start_locust,
    start_platform,
    wait_for,
)

ARTIFACTS = REPO / "results" / "test-artifacts"
SMTP_PASSWORD = "mail-secret-9c1e"  # must appear nowhere but the SMTP login
SAMPLE_TESTS = """
import os
def test_steady():
    pass
def test_flaky():
    assert os.environ.get("FLIP") != "1", "flipped"
def test_broken():
    assert 1 == 2, "always"
"""


def browse(url: str, screenshot: str, wait_text: str = "") -> dict:
    done = subprocess.run(
        [sys.executable, str(REPO / "tests" / "browser.py"), "--page", url,
         str(ARTIFACTS / screenshot), wait_text],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def table(page: dict, table_id: str) -> list[list[str]]:
    return next(t["rows"] for t in page["tables"] if t["id"] == table_id)[1:]  # no heading


def junit_run(tmp_path: Path, flip: str, name: str) -> Path:
    module = tmp_path / "test_sample.py"
    module.write_text(SAMPLE_TESTS)
    out = tmp_path / name
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(module),
         f"--junitxml={out}", "--rootdir", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env={**os.environ, "FLIP": flip},
    )  # fmt: skip
    assert out.exists()
    return out


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", *args], cwd=REPO, capture_output=True,
        text=True, timeout=300, env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A results database with two real smoke runs and two imported runs of a JUnit suite."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tmp_path = tmp_path_factory.mktemp("history")
    db = str(tmp_path / "results.db")
    platform = start_platform()
    try:
        for _ in range(2):
            done = run_locust(
                "--config", "config/smoke.conf", "--host", platform.url, "--run-time", "5s",
                "--users", "3", "--spawn-rate", "3", "--html", "", "--csv", "",
                "--results-db", db, "--run-label", "nightly", *CORRECTNESS_ONLY,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr[-2000:]
    finally:
        platform.stop()
    for flip, name in (("0", "junit-1.xml"), ("1", "junit-2.xml")):
        imported = cli("results", "import-junit", str(junit_run(tmp_path, flip, name)),
                       "--suite", "e2e", "--results-db", db)  # fmt: skip
        assert imported.returncode == 0 and ": imported" in imported.stdout, imported.stderr
    return db, platform


def database_runs(db: str) -> list[dict]:
    """Each run, newest first, with its p95 merged here from the interval histograms."""
    store = open_store(db)
    try:
        runs = store.fetch("SELECT run_id, total_requests FROM runs ORDER BY started_at DESC")
        for run in runs:
            rows = store.fetch(
                "SELECT histogram FROM request_intervals WHERE run_id = ?", (run["run_id"],)
            )
            merged, count = histogram.merged(r["histogram"] for r in rows)
            run["p95_ms"] = histogram.percentile(merged, count, 0.95)
        suites = store.fetch(
            "SELECT tests, passed, failed, errors, skipped FROM test_suite_runs "
            "ORDER BY started_at DESC"
        )
    finally:
        store.close()
    return runs, suites


def test_the_standalone_dashboard_shows_the_database(history):
    db, _ = history
    server = subprocess.Popen(
        [sys.executable, "-m", "obstack_load.cli", "dashboard", "--port", "0", "--results-db", db],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        line = wait_for(server.stdout.readline, timeout=60)
        url = line.split(" on ", 1)[1].strip()
        runs, suites = database_runs(db)

        page = browse(url, "dashboard-runs.png", "nightly")
        shown = [(row[5], row[8]) for row in table(page, "runs")]
        assert shown == [(str(r["total_requests"]), str(r["p95_ms"])) for r in runs]
        assert page["charts"] and page["charts"][0]["paths"] > 10

        page = browse(f"{url}tests", "dashboard-tests.png", "Flaky tests")
        rows = table(page, "suite-runs")
        assert [[int(v) for v in row[3:8]] for row in rows] == [
            [s["tests"], s["passed"], s["failed"], s["errors"], s["skipped"]] for s in suites
        ]
        assert [row[0] for row in table(page, "flaky")] == ["test_sample::test_flaky"]
        assert table(page, "most-failed")[0][:3] == ["test_sample::test_broken", "2", "2"]
        assert len(page["charts"]) == 2  # pass rate and duration

        older, newer = runs[1]["run_id"], runs[0]["run_id"]
        page = browse(
            f"{url}compare?baseline={older}&candidate={newer}",
            "dashboard-compare.png",
            "Aggregated",
        )
        assert any(row[1] == "Aggregated" for row in page["tables"][-1]["rows"])
        page = browse(f"{url}trends?label=nightly", "dashboard-trends.png", "change points")
        assert page["title"] == "obstack-load history: trends" and page["charts"]
        assert page["attempted"] == []  # nothing fetched from anywhere but the dashboard
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_the_history_tab_inside_a_real_locust_web_ui(history):
    db, _ = history
    runs, _ = database_runs(db)
    platform = start_platform()
    port = free_port()
    locust = start_locust(
        "-f", "locustfiles/smoke.py", "--host", platform.url, "--autostart", "-u", "1", "-r", "1",
        "--web-host", "127.0.0.1", "--web-port", str(port), "--results-db", db,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return requests.get(f"{url}/stats/requests", timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_for(answers, timeout=120, interval=0.2)
        report_path = f"/history/run/{runs[0]['run_id']}"
        page = browse(f"{url}/?tab=history", "history-tab.png", report_path)
        cells = [cell for t in page["tables"] for row in t["rows"] for cell in row]
        for run in runs:
            assert f"/history/run/{run['run_id']}" in cells
        page = browse(f"{url}/history/", "history-pages-in-locust.png", "nightly")
        assert [row[5] for row in table(page, "runs")][-2:] == [
            str(r["total_requests"]) for r in runs
        ]  # the web UI's own run is the newest; the two stored runs follow
    finally:
        locust.terminate()
        locust.communicate(timeout=120)
        assert platform.stop() == 0


def test_the_weekly_report_is_emailed_with_inline_charts(history, tmp_path):
    db, _ = history
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with smtp_server(inbox, "reporter", SMTP_PASSWORD) as env:
        sent = cli("report", "--period", "weekly", "--email", "qa@example.test",
                   "--results-db", db, env=env)  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        assert SMTP_PASSWORD not in sent.stdout + sent.stderr
        raw = (inbox / "1.eml").read_bytes()
    assert SMTP_PASSWORD.encode() not in raw
    assert (inbox / "1.rcpt").read_text() == "qa@example.test"
    message = email.message_from_bytes(raw, policy=policy.default)
    store = open_store(db)
    try:
        runs = store.fetch("SELECT exit_code FROM runs")  # all within the week
    finally:
        store.close()
    passed = sum(1 for r in runs if r["exit_code"] == 0)
    assert (
        message["Subject"]
        .strip()
        .startswith(f"obstack-load weekly report: {passed}/{len(runs)} load runs passed")
    )
    assert message.get_content_type() == "multipart/alternative"
    related = message.get_payload()[1]
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.get_payload()
    html = html_part.get_content()
    assert html_part.get_content_type() == "text/html" and "nightly" in html and "e2e" in html
    assert len(images) == 3  # p95 per run, pass rate, duration
    for image in images:
        assert image.get_content_type() == "image/png"
        assert image.get_content().startswith(b"\x89PNG")
        assert f'src="cid:{image["Content-ID"].strip("<>")}"' in html
    assert "test_sample::test_flaky" in html  # the flaky test is named

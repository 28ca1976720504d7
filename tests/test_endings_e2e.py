"""SIGTERM (and SIGHUP) mid-run ends a run as Ctrl-C does: users stop, results are flushed, the summary and
JSON are written, and the run's row is finalised ``interrupted`` with exit code 130, with totals
equal to its interval rows. Standalone with the ci profile, with a shape and without, and on a
master with two workers."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys

import pytest

from tests.support import (
    CORRECTNESS_ONLY,
    LIVENESS,
    LOCUST_TIMEOUT,
    REPO,
    free_port,
    start_locust,
    start_workers,
    wait_for,
)

EXIT_INTERRUPTED = 130


def run_row(db: str) -> tuple[dict, int]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        (run,) = conn.execute("SELECT * FROM runs").fetchall()
        (counted,) = conn.execute(
            "SELECT COALESCE(SUM(count), 0) FROM request_intervals WHERE run_id = ?",
            (run["run_id"],),
        ).fetchone()
        (raw,) = conn.execute(
            "SELECT COUNT(*) FROM requests WHERE run_id = ?", (run["run_id"],)
        ).fetchone()
    return {**dict(run), "raw": raw}, counted


def intervals_stored(db: str) -> int:
    """Requests in the run's stored intervals; 0 until its row is there (another test's
    process must not make this one's wait fail on an empty table)."""
    with sqlite3.connect(db) as conn:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs'").fetchone():
            return 0
        if not conn.execute("SELECT 1 FROM runs").fetchone():
            return 0
    return run_row(db)[1]


def served(platform, token: str) -> float:
    """Every request the platform has answered, from its own /metrics."""
    text = platform.get("/metrics", token).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("obstack_http_requests_total{")
    )


def interrupt(
    process: subprocess.Popen, platform, tenants, token: str, before: float,
    ending: signal.Signals = signal.SIGTERM,
):  # fmt: skip
    """``ending`` once every user is sending (a few hundred requests have reached the platform
    since ``before``); the process's output."""
    wait_for(lambda: served(platform, token) > before + 200, timeout=120, interval=0.2)
    process.send_signal(ending)
    try:  # inside pytest's own 300 s limit, so the process is killed
        return process.communicate(timeout=LOCUST_TIMEOUT - 60)
    except subprocess.TimeoutExpired:
        process.kill()  # not left generating load into the next test's counts
        process.communicate()
        raise


def check_interrupted(returncode: int, out: str, err: str, tmp_path) -> None:
    assert returncode == EXIT_INTERRUPTED, out[-3000:] + err[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    run, counted = run_row(str(tmp_path / "results.db"))
    assert (run["status"], run["exit_code"]) == ("interrupted", EXIT_INTERRUPTED)
    assert summary["exit_code"] == EXIT_INTERRUPTED
    assert run["run_id"] == summary["results"]["run_id"]
    assert run["total_requests"] == counted == run["raw"] == summary["totals"]["requests"] > 0
    assert summary["results"]["rows_not_written"] == 0
    assert "obstack-load summary" in out


@pytest.mark.parametrize("shape", [["--load-shape", "stages", "--stages", "10m:10"], []])
def test_sigterm_standalone_finalises_the_run(platform, tenants, tmp_path, shape):
    """With a stages shape (Locust's own SIGTERM handler is not installed yet) and without."""
    token = platform.token_for(tenants, 0)
    before = served(platform, token)
    process = start_locust(
        "--config", "config/ci.conf", "--host", platform.url, "--run-time", "10m", *shape, *CORRECTNESS_ONLY,
        "--results-db", str(tmp_path / "results.db"), "--results-requests", "all",
        "--summary-json", str(tmp_path / "summary.json"), "--html", str(tmp_path / "r.html"),
        "--csv", str(tmp_path / "r"),
    )  # fmt: skip
    out, err = interrupt(process, platform, tenants, token, before)
    check_interrupted(process.returncode, out, err, tmp_path)
    assert (tmp_path / "r.html").exists() and (tmp_path / "r_stats.csv").exists()


def test_sighup_standalone_finalises_the_run(platform, tenants, tmp_path):
    """A closed SSH session or a killed terminal multiplexer sends SIGHUP: the same ending,
    the summary, JSON, HTML and CSV written."""
    token = platform.token_for(tenants, 0)
    before = served(platform, token)
    process = start_locust(
        "--config", "config/ci.conf", "--host", platform.url, "--run-time", "10m",
        *CORRECTNESS_ONLY, "--results-db", str(tmp_path / "results.db"),
        "--results-requests", "all", "--summary-json", str(tmp_path / "summary.json"),
        "--html", str(tmp_path / "r.html"), "--csv", str(tmp_path / "r"),
    )  # fmt: skip
    out, err = interrupt(process, platform, tenants, token, before, signal.SIGHUP)
    check_interrupted(process.returncode, out, err, tmp_path)
    assert (tmp_path / "r.html").exists() and (tmp_path / "r_stats.csv").exists()


@pytest.mark.parametrize("ending", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_to_a_master_with_two_workers_finalises_the_run(
    platform, tenants, tmp_path, ending
):
    token = platform.token_for(tenants, 0)
    before = served(platform, token)
    port = str(free_port())
    master = start_locust(
        "-f", "locustfiles/smoke.py", "--headless", "-u", "6", "-r", "6", "--run-time", "10m",
        "--host", platform.url, "--master", "--expect-workers", "2",
        "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
        "--results-db", str(tmp_path / "results.db"), "--results-requests", "all",
        "--summary-json", str(tmp_path / "summary.json"), *LIVENESS,
    )  # fmt: skip
    workers = start_workers("locustfiles/smoke.py", port)
    try:
        out, err = interrupt(master, platform, tenants, token, before, ending)
        for worker in workers:  # the master tells them to quit: none runs on
            worker_out, worker_err = worker.communicate(timeout=120)
            assert worker.returncode == 0, worker_err[-3000:]
    finally:
        for process in (master, *workers):
            if process.poll() is None:
                process.kill()
    check_interrupted(master.returncode, out, err, tmp_path)


def test_a_killed_run_is_shown_abandoned_without_made_up_rates(platform, tenants, tmp_path):
    """SIGKILL leaves no chance to finalise: `runs` tells it from a live run by its process."""
    db = tmp_path / "results.db"
    token = platform.token_for(tenants, 0)
    before = served(platform, token)
    process = start_locust(
        "-f", "locustfiles/probe.py", "--headless", "-u", "2", "-r", "2", "--run-time", "10m",
        "--host", platform.url, "--results-db", str(db), "--results-interval", "1",
    )  # fmt: skip
    wait_for(lambda: served(platform, token) > before + 200, timeout=120, interval=0.2)
    wait_for(lambda: intervals_stored(str(db)) > 100, timeout=120, interval=0.2)
    process.kill()
    process.communicate(timeout=60)
    shown = subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", "runs", "show", "latest", "--results-db", str(db), "--json"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["run"]["status"] == "abandoned"
    # its rate runs from its start to its last stored interval: never the 8e9 requests/s an
    # unset end time gave (two users on /healthz manage a few thousand at the very most)
    rps = report["totals"]["rps"]
    assert rps is not None and 0 < rps < 100_000, report["totals"]
    listed = subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", "runs", "list", "--results-db", str(db), "--json"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    (run,) = json.loads(listed.stdout)
    assert run["status"] == "abandoned"
    # its totals are what it stored, not the 0 its unfinished row holds
    assert run["total_requests"] == intervals_stored(str(db)) > 100
    assert run["totals_from"] == "intervals"

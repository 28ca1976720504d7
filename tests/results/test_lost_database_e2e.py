"""A results database that never comes back, and a full disk under SQLite: the run says so while
it waits, spools every unwritten row and the run's row to a local file, and exits 5
(results-incomplete); `obstack-load results replay` then brings the database to exactly
Locust's totals, and a second replay adds nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from obstack_load.results.store import open_store
from tests.postgres import start_postgres
from tests.support import REPO, start_locust, wait_for

EXIT_RESULTS_INCOMPLETE = 5


def stored(target: str, run_id: str) -> dict:
    store = open_store(target, create=False)
    try:

        def one(sql: str) -> int:
            return int(store.fetch(sql, (run_id,))[0]["n"])

        (run,) = store.fetch("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return {
            "status": run["status"],
            "exit_code": run["exit_code"],
            "total_requests": run["total_requests"],
            "intervals": one(
                "SELECT COALESCE(SUM(count), 0) AS n FROM request_intervals WHERE run_id = ?"
            ),
            "raw": one("SELECT COUNT(*) AS n FROM requests WHERE run_id = ?"),
        }
    finally:
        store.close()


def replay(spool: Path, target: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", "results", "replay", str(spool), "--results-db", target],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def run_losing(platform, tmp_path: Path, target: str, lose=None) -> tuple[dict, str, Path]:
    """A run into ``target``; ``lose()``, if given, is called once rows are being written."""
    summary = tmp_path / "summary.json"
    process = start_locust(
        "-f", "locustfiles/probe.py", "--headless", "-u", "4", "-r", "4", "--run-time", "12s",
        "--host", platform.url, "--results-db", target, "--results-requests", "all",
        "--results-interval", "1", "--results-wait", "4",
        "--results-spool-dir", str(tmp_path / "spool"), "--summary-json", str(summary),
    )  # fmt: skip
    if lose is not None:
        wait_for(lambda: _has_intervals(target), timeout=120, interval=0.2)
        lose()
    out, err = process.communicate(timeout=300)
    assert process.returncode == EXIT_RESULTS_INCOMPLETE, out[-3000:] + err[-3000:]
    data = json.loads(summary.read_text())
    return data, out + err, Path(data["results"]["spool"])


def _has_intervals(target: str) -> bool:
    try:
        store = open_store(target, create=False)
    except Exception:
        return False
    try:
        return bool(store.fetch("SELECT COUNT(*) AS n FROM request_intervals")[0]["n"])
    except Exception:
        return False
    finally:
        store.close()


def check_replays(summary: dict, output: str, spool: Path, target: str) -> None:
    run_id = summary["results"]["run_id"]
    assert summary["results"]["status"] == "results-incomplete"
    assert summary["results"]["rows_spooled"] > 0 and spool.is_file()
    assert "rows waiting; waiting" in output, "it says how many rows wait, and for how long"
    assert f"obstack-load results replay {spool}" in output
    first = replay(spool, target)
    after = stored(target, run_id)
    total = summary["totals"]["requests"]
    assert after == {
        "status": "results-incomplete",
        "exit_code": EXIT_RESULTS_INCOMPLETE,
        "total_requests": total,
        "intervals": total,
        "raw": total,
    }, first
    second = replay(spool, target)
    assert " 0 batches (0 rows) written" in second, second
    assert stored(target, run_id) == after


def test_postgres_stopped_for_good_mid_run(platform, tmp_path):
    server = start_postgres()
    try:
        summary, output, spool = run_losing(
            platform, tmp_path, server.dsn, lambda: server.stop("immediate")
        )
        server.start()
        server.wait_ready()
        check_replays(summary, output, spool, server.dsn)
    finally:
        server.stop("immediate")


@pytest.fixture
def small_disk(tmp_path):
    """A 200 KB tmpfs (root only: CI runs as root)."""
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)], capture_output=True
    )
    if result.returncode != 0:
        pytest.fail(
            f"the full-disk test needs root to mount a tmpfs: {result.stderr.decode().strip()}"
        )
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_under_sqlite(platform, tmp_path, small_disk):
    target = str(small_disk / "results.db")
    summary, output, spool = run_losing(platform, tmp_path, target)
    assert "Traceback" not in output
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    check_replays(summary, output, spool, target)

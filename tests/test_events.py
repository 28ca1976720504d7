"""The suite's events in a real Locust run: a plugin of the test's own hears the thresholds'
verdict and the finalised run, and adds its own summary section and lines."""

from __future__ import annotations

import json

from tests.support import run_locust


def test_a_new_plugin_meets_the_others_through_the_suite_events(platform, tmp_path):
    heard = tmp_path / "heard.json"
    summary_path = tmp_path / "summary.json"
    result = run_locust(
        "-f", "tests/locustfiles/listens.py", "--headless", "-u", "2", "-r", "2",
        "--run-time", "4s", "--host", platform.url, "--threshold", "rate<0.5",
        "--threshold", "count<1000000000", "--results-db", str(tmp_path / "r.db"),
        "--summary-json", str(summary_path), "--only-summary",
        env={"OBSTACK_TEST_HEARD": str(heard)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(heard.read_text())
    summary = json.loads(summary_path.read_text())
    assert data["thresholds"] == {"verdict": "passed", "count": 2, "exit_code": 0}
    finalised = data["finalised"]
    assert finalised["run_id"] == summary["results"]["run_id"]
    assert (finalised["status"], finalised["exit_code"]) == ("finished", 0)
    assert summary["listens"]["requests"] == summary["totals"]["requests"] > 0
    assert "  listens: a section of its own" in result.stdout
    assert summary["thresholds"]["verdict"] == "passed"


def test_a_new_plugin_stores_rows_in_a_table_of_its_own(platform, tmp_path):
    """A plugin's own Table and rows, with no change to results/: the table is made on the
    first write, and the rows name the phases of the end the plugin joined."""
    import sqlite3

    db = tmp_path / "r.db"
    summary_path = tmp_path / "summary.json"
    result = run_locust(
        "-f", "tests/locustfiles/listens.py", "--headless", "-u", "1", "-r", "1",
        "--run-time", "3s", "--host", platform.url, "--results-db", str(db),
        "--summary-json", str(summary_path), "--only-summary",
        env={"OBSTACK_TEST_HEARD": str(tmp_path / "heard.json")},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_id = json.loads(summary_path.read_text())["results"]["run_id"]
    with sqlite3.connect(db) as conn:
        stored = conn.execute(
            "SELECT phase FROM listens_heard WHERE run_id = ? ORDER BY rowid", (run_id,)
        ).fetchall()
    assert [phase for (phase,) in stored] == ["judge", "decide finished"]

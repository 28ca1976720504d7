"""locustfiles/mixed.py, which the load profiles run: API users with ingestion underneath."""

from __future__ import annotations

import json
import sqlite3

from tests.support import run_locust


def test_ingestion_keeps_its_users_per_signal_and_the_rest_are_api_users(tmp_path, platform):
    summary_path = tmp_path / "summary.json"
    database = tmp_path / "results.db"
    result = run_locust(
        "-f", "locustfiles/mixed.py", "--headless", "--host", platform.url, "--only-summary",
        "-u", "7", "-r", "7", "-t", "8s", "--stop-timeout", "30",
        "--otlp-users-per-signal", "1", "--otlp-total-rate", "300",
        "--summary-json", str(summary_path), "--results-db", str(database),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(summary_path.read_text())
    assert summary["totals"]["failures"] == 0
    for signal in ("logs", "metrics", "traces"):
        assert summary["ingest"]["by_signal"][signal]["accepted_items"] > 0, signal
    names = {entry["name"] for entry in summary["requests"]}
    assert any(name.startswith("/api/v1/") for name in names), names
    with sqlite3.connect(database) as conn:
        by_class = [json.loads(row[0]) for row in conn.execute("SELECT by_class FROM user_counts")]
    full = [counts for counts in by_class if sum(counts.values()) == 7]
    assert full, by_class
    assert full[-1] == {
        "ApiUser": 4,
        "LogsIngestUser": 1,
        "MetricsIngestUser": 1,
        "TracesIngestUser": 1,
    }


def test_a_bad_users_per_signal_stops_before_load(tmp_path, platform):
    result = run_locust(
        "-f", "locustfiles/mixed.py", "--headless", "--host", platform.url,
        "-u", "2", "-t", "3s", "--otlp-users-per-signal", "-1",
        "--results-db", str(tmp_path / "results.db"),
    )  # fmt: skip
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("obstack-load:")]
    assert len(errors) == 1 and "otlp-users-per-signal" in errors[0], result.stderr[-2000:]

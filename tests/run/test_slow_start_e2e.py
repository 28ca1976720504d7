"""A run whose start-up takes longer than its --run-time still runs for its --run-time.

Locust sets that timer right after ``init``; libev times it from the clock it read when its
loop last ran. Seen in CI: a 3 s run on a busy machine ended 19 ms after it began, with no
request sent and no run recorded. ``tests/locustfiles/slow_start.py`` holds the process 4 s
at start-up, every time."""

from __future__ import annotations

import json

from tests.support import run_locust


def test_a_slow_start_up_does_not_eat_the_run_time(platform, tmp_path):
    summary = tmp_path / "summary.json"
    result = run_locust(
        "-f", "tests/locustfiles/slow_start.py", "--headless", "-u", "1", "-r", "1",
        "--run-time", "3s", "--host", platform.url, "--results-db", str(tmp_path / "r.db"),
        "--summary-json", str(summary), "--only-summary",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(summary.read_text())
    assert data["results"]["status"] == "finished"
    # the probe waits 0.1 s between requests: 3 s hold some 30; one is enough to tell
    assert data["totals"]["requests"] > 5, data["totals"]

"""Capacity searches against a platform whose capacity is known: 4 slots of 20 ms each, so it
serves at most 200 requests/s and its queue grows without bound past that. The search must
find it within 10%, standalone and with two workers; a starved generator must be named as the
limit, with no capacity claimed; the steps are stored with the run; the report renders."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from tests.support import REPO, free_port

# searches measure capacities: beside three other test shards on two cores they found half of
# a known one (CI); scripts/test.sh runs them after the shards, one at a time
pytestmark = pytest.mark.alone

TRUE_CAPACITY = 200.0  # 4 slots / 0.020 s
ARTIFACTS = REPO / "results" / "test-artifacts"


def search(platform, tmp_path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    report = tmp_path / "capacity.html"
    done = subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", "capacity", "-f", "locustfiles/probe.py",
         "--host", platform.url, "--capacity-slo", "p(95)<300", "--capacity-slo", "rate<0.01", "--capacity-start", "50",
         "--capacity-max", "800", "--capacity-step-time", "6", "--capacity-settle", "2", "--users", "100",
         "--capacity-report", str(report), "--results-db", str(tmp_path / "results.db"), *extra],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    # every search's log kept (CI keeps results/): a search on CI's busiest minute has found
    # half a known capacity, and its steps are the place to look
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"capacity-{tmp_path.name}.log").write_text(done.stdout + done.stderr)
    return done, {"report": report, "db": tmp_path / "results.db"}


def stored(db) -> tuple[list, tuple]:
    with sqlite3.connect(db) as conn:
        steps = conn.execute(
            "SELECT offered_rate, passed FROM capacity_steps ORDER BY step"
        ).fetchall()
        finding = conn.execute(
            "SELECT f.capacity, f.limit_kind, f.generator_bound, r.status FROM capacity_findings f "
            "JOIN runs r USING (run_id)"
        ).fetchone()
    return steps, finding


@pytest.mark.timeout(900)
@pytest.mark.parametrize("workers", [0, 2])
def test_the_search_finds_a_known_capacity_within_ten_percent(capped, tmp_path, workers):
    # the master's port from the OS, not Locust's default: other tests run beside this one
    # (--processes binds --master-bind-port and its workers dial --master-port)
    port = str(free_port())
    done, paths = search(
        capped, tmp_path, "--workers", str(workers), "--",
        "--master-bind-port", port, "--master-port", port,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    steps, (capacity, limit, generator_bound, status) = stored(paths["db"])
    assert abs(capacity - TRUE_CAPACITY) <= 0.10 * TRUE_CAPACITY, (capacity, steps)
    assert not generator_bound and limit in ("latency", "target-cpu") and status == "finished"
    assert [rate for rate, _ in steps[:3]] == [50, 100, 200]  # geometric, then bisection
    assert f"Capacity {capacity:,.0f} iterations/s" in done.stdout
    if workers == 0:  # the report, in Chromium, kept as an artifact
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        html = paths["report"].read_text()
        assert "<script" not in html and "knee" in html
        screenshot = ARTIFACTS / "capacity-report.png"
        shown = subprocess.run(
            [sys.executable, str(REPO / "tests" / "browser.py"), "--offline",
             str(paths["report"]), str(screenshot)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        page = json.loads(shown.stdout)
        assert page["attempted"] == []
        labels = {c["label"] for c in page["charts"]}
        assert labels == {"Latency against offered load", "Throughput against offered load"}
        assert all(c["width"] > 300 and c["paths"] > 10 for c in page["charts"])
        assert screenshot.stat().st_size > 10_000

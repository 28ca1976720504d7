"""A run-wide arrival rate is shared by the workers that are really there: a web UI master with
two workers sends the rate asked whether it expected fewer (as in Kubernetes: no
--expect-workers, which defaults to 1; each worker used to send all of it) or more (3; the two
used to send two thirds of it).

The rate is read in the run's steady seconds (1 s intervals stored by the results plugin, keyed
by each request's own time), not as the run's total: a 10 s run's total also counts how long the
workers took to start their users, which on a busy CI machine was a third of it (415 of 600)."""

from __future__ import annotations

import signal
import sqlite3

import pytest
import requests

from tests.support import LIVENESS, REPO, free_port, start_locust, start_workers, wait_for

RATE, SECONDS = 60, 15
EDGE_S = 2  # the seconds left out at each end: users spawning, the stop
# the steady seconds the rate is read on, at least: the run's time counts from the swarm, and
# a busy machine takes seconds to start the workers' users (CI: 9 seconds of 12 had requests)
STEADY_S = 3


@pytest.mark.parametrize(
    "expected", [[], ["--expect-workers", "3"]], ids=["expects-1", "expects-3"]
)
def test_two_workers_share_the_rate_whatever_the_master_expected(platform, tmp_path, expected):
    label = f"expects-{expected[-1] if expected else 1}"
    web, port = free_port(), str(free_port())
    master = start_locust(
        "-f", "locustfiles/probe.py", "--master", *expected, "--master-bind-host", "127.0.0.1",
        "--master-bind-port", port, "--web-host", "127.0.0.1", "--web-port", str(web),
        "--host", platform.url, "--results-db", str(tmp_path / "results.db"),
        "--results-interval", "1", *LIVENESS,
    )  # fmt: skip
    workers = start_workers("locustfiles/probe.py", port)
    url = f"http://127.0.0.1:{web}"

    def stats() -> dict | None:
        try:
            return requests.get(f"{url}/stats/requests", timeout=5).json()
        except (requests.ConnectionError, ValueError):
            return None

    try:
        wait_for(
            lambda: (s := stats()) and len(s.get("workers", [])) == 2, timeout=120, interval=0.2
        )
        form = {
            "user_count": 10, "spawn_rate": 10, "host": platform.url,
            "run_time": f"{SECONDS}s", "arrival_rate": str(RATE),
        }  # fmt: skip
        assert requests.post(f"{url}/swarm", data=form, timeout=60).json()["success"]
        wait_for(lambda: stats()["state"] != "stopped", timeout=60, interval=0.1)
        wait_for(lambda: stats()["state"] == "stopped", timeout=120, interval=0.2)
        # the run's record, once finalised: its end waits for every worker's report after the
        # stop (two equal web UI totals 3.5 s apart read a short total on a busy CI machine)
        total = wait_for(
            lambda: _finalised_total(tmp_path / "results.db"), timeout=120, interval=0.5
        )
        per_second = _per_second(tmp_path / "results.db")
        steady = per_second[EDGE_S:-EDGE_S]
        assert len(steady) >= STEADY_S, per_second
        rate = sum(steady) / len(steady)
        assert abs(rate - RATE) <= 0.15 * RATE, (rate, per_second, total)
    finally:
        # the master's and workers' logs, kept after the test (CI keeps results/)
        logs = REPO / "results" / "test-artifacts" / f"rate-split-{label}"
        logs.mkdir(parents=True, exist_ok=True)
        master.send_signal(signal.SIGTERM)
        (logs / "master.log").write_text(master.communicate(timeout=300)[1])
        for n, worker in enumerate(workers):
            (logs / f"worker{n}.log").write_text(worker.communicate(timeout=120)[1])


def _finalised_total(db) -> int | None:
    """The run's stored total once its row is finalised (the web UI run ended)."""
    try:
        with sqlite3.connect(db) as conn:
            row = conn.execute("SELECT status, total_requests FROM runs").fetchone()
    except sqlite3.Error:
        return None
    return row[1] if row and row[0] == "finished" else None


def _per_second(db) -> list[int]:
    """Requests in each second of the run, from its first request's second to its last's (a
    second without any is 0)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT CAST(ts AS INTEGER), SUM(count) FROM request_intervals GROUP BY 1 ORDER BY 1"
        ).fetchall()
    if not rows:
        return []
    counts = dict(rows)
    return [counts.get(second, 0) for second in range(rows[0][0], rows[-1][0] + 1)]

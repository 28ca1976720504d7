"""The capacity search against a target the suite did not start: nginx with a known limit_req
cap, whose /metrics answers 200 with plain text (a catch-all page) or 404. The search must
find the cap within 10%, say the target's figures are n/a, and print no traceback: the way it
reads the target must never turn into a false finding. The cap, 160 r/s, sits between the
search's doubling steps (25, 50, 100, 200), so only bisection can find it. (The 400 r/s case of
issue 26 is benchmarks/capacity_foreign.py.)"""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from benchmarks.sink import limited_nginx
from tests.support import REPO

# searches measure capacities: beside three other test shards on two cores they found half of
# a known one (CI); scripts/test.sh runs them after the shards, one at a time
pytestmark = pytest.mark.alone

CAP = 160.0  # nginx's limit_req rate, requests/s: between the steps 100 and 200


@pytest.mark.timeout(900)
@pytest.mark.parametrize("metrics", ["text", "missing"])
def test_the_search_finds_nginx_s_cap_and_says_its_figures_are_na(tmp_path, metrics):
    with limited_nginx(rate=CAP, metrics=metrics) as url:
        done = subprocess.run(
            [sys.executable, "-m", "obstack_load.cli", "capacity", "-f", "locustfiles/probe.py",
             "--host", url, "--capacity-slo", "rate<0.01", "--capacity-start", "25",
             "--capacity-max", "400", "--capacity-step-time", "6", "--capacity-settle", "2",
             "--users", "50", "--capacity-report", str(tmp_path / "capacity.html"),
             "--results-db", str(tmp_path / "results.db")],
            cwd=REPO, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "Traceback" not in output
    with sqlite3.connect(tmp_path / "results.db") as conn:
        capacity, limit, status = conn.execute(
            "SELECT f.capacity, f.limit_kind, r.status FROM capacity_findings f "
            "JOIN runs r USING (run_id)"
        ).fetchone()
        target_cpu = conn.execute(
            "SELECT COUNT(*) FROM capacity_steps WHERE target_cpu IS NOT NULL"
        ).fetchone()[0]
    assert abs(capacity - CAP) <= 0.10 * CAP, (capacity, output[-3000:])
    assert status == "finished" and limit == "errors", (limit, status)
    assert target_cpu == 0, "no target figure may be made up from a page that is not metrics"
    assert "the target's figures are n/a" in output

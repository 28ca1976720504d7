"""The capacity search against a target it did not start, of known capacity: nginx's limit_req
at --rate requests/s (400 by default, issue 26's case), whose /metrics is a plain-text page or
missing. Prints each search's capacity against the truth; the target's figures must be n/a.

    python benchmarks/capacity_foreign.py [--rate 400] [--runs 3]
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.sink import limited_nginx  # noqa: E402
from tests.support import REPO  # noqa: E402


def search(url: str, rate: float, tmp: Path) -> tuple[float | None, str]:
    db = tmp / "results.db"
    subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", "capacity", "-f", "locustfiles/probe.py",
         "--host", url, "--capacity-slo", "rate<0.01", "--capacity-start", f"{rate / 4:g}",
         "--capacity-max", f"{rate * 4:g}", "--capacity-step-time", "10",
         "--capacity-settle", "3", "--users", "100", "--capacity-report", str(tmp / "c.html"),
         "--results-db", str(db)],
        cwd=REPO, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    with sqlite3.connect(db) as conn:
        capacity, limit = conn.execute(
            "SELECT capacity, limit_kind FROM capacity_findings"
        ).fetchone()
    return capacity, limit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=400.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"nginx limit_req {args.rate:g} r/s; capacity found (error against the truth)")
    for metrics in ("text", "missing"):
        for run in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp, limited_nginx(args.rate, metrics) as url:
                capacity, limit = search(url, args.rate, Path(tmp))
            error = (capacity - args.rate) / args.rate if capacity else None
            shown = f"{capacity:,.0f}/s ({error:+.1%})" if error is not None else "none"
            print(f"  /metrics {metrics:<8} run {run + 1}: {shown}, limit {limit}", flush=True)


if __name__ == "__main__":
    main()

"""The capacity search against targets of known capacity, with no /metrics to read:

- ``--target nginx``: nginx's limit_req at --rate requests/s (400 by default, issue 26's case),
  whose /metrics is a plain-text page or missing: a limit made of errors (503);
- ``--target queue``: the platform with --test-capacity-slots 7 --test-service-ms 20 (350/s; past
  it the latency grows and nothing fails), its /metrics refused (a wrong key): a limit made of
  a queue.

``--start`` sets the first step: the truth lies between the doubling steps unless it is
rate/2**k times start. Prints each search's capacity against the truth; the target's figures
must be n/a.

    python benchmarks/capacity_foreign.py [--target nginx] [--rate 400] [--start 100] [--runs 3]
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
from tests.support import REPO, start_platform  # noqa: E402


def search(url: str, rate: float, start: float, tmp: Path, slos: tuple[str, ...],
           extra: tuple[str, ...] = ()) -> tuple[float | None, str]:  # fmt: skip
    db = tmp / "results.db"
    subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", "capacity", "-f", "locustfiles/probe.py",
         "--host", url, *[a for slo in slos for a in ("--capacity-slo", slo)],
         "--capacity-start", f"{start:g}",
         "--capacity-max", f"{rate * 4:g}", "--capacity-step-time", "10",
         "--capacity-settle", "3", "--users", "100", "--capacity-report", str(tmp / "c.html"),
         "--results-db", str(db), *extra],
        cwd=REPO, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    with sqlite3.connect(db) as conn:
        capacity, limit = conn.execute(
            "SELECT capacity, limit_kind FROM capacity_findings"
        ).fetchone()
    return capacity, limit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("nginx", "queue"), default="nginx")
    parser.add_argument("--rate", type=float, default=400.0, help="nginx's limit_req rate")
    parser.add_argument("--start", type=float, help="the first step (default: rate / 4)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.target == "queue":
        truth, start = QUEUE_SLOTS / (QUEUE_SERVICE_MS / 1000), args.start or 50.0
        print(f"a queue of {QUEUE_SLOTS} slots x {QUEUE_SERVICE_MS:g} ms ({truth:g}/s), first "
              f"step {start:g}/s; capacity found (error against the truth)")  # fmt: skip
        for run in range(args.runs):
            platform = start_platform("--test-capacity-slots", str(QUEUE_SLOTS),
                                      "--test-service-ms", f"{QUEUE_SERVICE_MS:g}")  # fmt: skip
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    capacity, limit = search(
                        platform.url,
                        truth,
                        start,
                        Path(tmp),
                        ("p(95)<300", "rate<0.01"),
                        ("--", "--target-metrics-key", "not-a-key"),  # its /metrics: 401, n/a
                    )
            finally:
                platform.stop()
            report(f"queue run {run + 1}", capacity, truth, limit)
        return
    start = args.start or args.rate / 4
    print(f"nginx limit_req {args.rate:g} r/s, first step {start:g}/s; capacity found (error "
          "against the truth)")  # fmt: skip
    for metrics in ("text", "missing"):
        for run in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp, limited_nginx(args.rate, metrics) as url:
                capacity, limit = search(url, args.rate, start, Path(tmp), ("rate<0.01",))
            report(f"/metrics {metrics:<8} run {run + 1}", capacity, args.rate, limit)


QUEUE_SLOTS, QUEUE_SERVICE_MS = 7, 20.0


def report(what: str, capacity: float | None, truth: float, limit: str) -> None:
    error = (capacity - truth) / truth if capacity else None
    shown = f"{capacity:,.1f}/s ({error:+.1%})" if error is not None else "none"
    print(f"  {what}: {shown}, limit {limit}", flush=True)


if __name__ == "__main__":
    main()

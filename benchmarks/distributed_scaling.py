"""One Locust worker process against two, side by side: how requests/s scale with workers.

Each variant runs ``locust --processes N`` (a master and N worker processes, Locust's own
distributed mode) with the results plugin loaded, against the nginx sink; requests/s are counted
by nginx between two readings inside the run. Variants alternate round by round.

    python benchmarks/distributed_scaling.py [--rounds 3] [--duration 15] [--users 40]

On a 2-core machine the sink and the master share the cores with the workers, so the ratio here
is a floor for what two dedicated worker cores give.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import tests  # noqa: E402, F401  (patches gevent before requests loads ssl, as the tests do)
from benchmarks.sink import nginx_sink, steady_rps  # noqa: E402

WARMUP_S = 4


def run(processes: int, host: str, args, workdir: Path) -> float:
    command = [
        sys.executable, "-m", "locust", "-f", args.locustfile, "--headless", "--host", host,
        "-u", str(args.users), "-r", str(args.users), "-t", f"{args.duration}s", "--processes", str(processes),
        "--only-summary", "--results-db", str(workdir / "results.db"), "--results-requests", "none",
    ]  # fmt: skip
    return steady_rps(
        command, host, args.duration, {**os.environ, "PYTHONPATH": str(REPO)}, WARMUP_S
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument(
        "--locustfile",
        default="benchmarks/locustfiles/results_get.py",
        help="what each worker runs",
    )
    parser.add_argument(
        "--items-per-request",
        type=int,
        default=0,
        help="to report items/s too (100 for ingest_logs.py)",
    )
    args = parser.parse_args()
    import tempfile

    rps: dict[int, list[float]] = {1: [], 2: []}
    with nginx_sink() as host, tempfile.TemporaryDirectory() as tmp:
        for round_number in range(args.rounds):
            for processes in rps:
                rps[processes].append(run(processes, host, args, Path(tmp)))
                print(
                    f"round {round_number + 1}: {processes} worker process(es): {rps[processes][-1]:,.0f} req/s",
                    flush=True,
                )
    ratio = statistics.median(b / a for a, b in zip(rps[1], rps[2], strict=True))
    print()
    items = args.items_per_request
    print(f"{args.locustfile}:")
    print("| worker processes | median requests/s | per worker | items/s per worker |")
    print("| ---: | ---: | ---: | ---: |")
    for processes, values in rps.items():
        median = statistics.median(values)
        per_worker_items = f"{median / processes * items:,.0f}" if items else "-"
        print(f"| {processes} | {median:,.0f} | {median / processes:,.0f} | {per_worker_items} |")
    print(f"\n2 workers / 1 worker (median of per-round ratios): {ratio:.2f}")


if __name__ == "__main__":
    main()

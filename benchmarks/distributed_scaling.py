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
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import tests  # noqa: E402, F401  (patches gevent before requests loads ssl, as the tests do)
from benchmarks.sink import nginx_sink, requests_served  # noqa: E402

WARMUP_S = 4


def run(processes: int, host: str, args, workdir: Path) -> float:
    command = [
        sys.executable, "-m", "locust", "-f", "benchmarks/locustfiles/results_get.py", "--headless", "--host", host,
        "-u", str(args.users), "-r", str(args.users), "-t", f"{args.duration}s", "--processes", str(processes),
        "--only-summary", "--results-db", str(workdir / "results.db"), "--results-requests", "none",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    time.sleep(WARMUP_S)  # a measurement window, not a readiness wait
    first, start = requests_served(host), time.monotonic()
    time.sleep(args.duration - WARMUP_S - 2)
    last, end = requests_served(host), time.monotonic()
    _, err = process.communicate(timeout=300)
    if process.returncode not in (0, 1):
        raise SystemExit(f"--processes {processes} failed ({process.returncode}):\n{err[-2000:]}")
    return (last - first - 1) / (end - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--users", type=int, default=40)
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
    print("| worker processes | median requests/s | per worker |")
    print("| ---: | ---: | ---: |")
    for processes, values in rps.items():
        median = statistics.median(values)
        print(f"| {processes} | {median:,.0f} | {median / processes:,.0f} |")
    print(f"\n2 workers / 1 worker (median of per-round ratios): {ratio:.2f}")


if __name__ == "__main__":
    main()

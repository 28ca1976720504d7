"""The API users' requests/s against raw FastHttpUser GETs of the same endpoints, in one run.

Both variants hit the reference platform (pinned to CPU 0) from one Locust process pinned to
CPU 1, with no think time: the API users with a read-only mix (dashboards with their panels,
log search with paging, trace search and lookup), logging in, validating every answer's shape and
tenant; the raw users cycling the same GETs with a token and no checks. Requests/s are counted
by the platform's own /metrics between two readings inside each run. Variants alternate.

    python benchmarks/api_overhead.py [--rounds 3] [--duration 15] [--users 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import tests  # noqa: E402, F401  (patches gevent before requests loads ssl, as the tests do)
from benchmarks.sink import steady_rps  # noqa: E402
from obstack_load.tenants import load_population  # noqa: E402
from obstack_load.users.api_mix import DEFAULT_MIX_FILE  # noqa: E402
from tests.support import start_platform  # noqa: E402

WARMUP_S = 4


def served(platform, api_key: str) -> int:
    import requests

    text = requests.get(f"{platform.url}/metrics", headers={"X-API-Key": api_key}, timeout=30).text
    total = 0
    for line in text.splitlines():
        if (
            line.startswith("obstack_http_requests_total{")
            and 'method="GET"' in line
            and 'handler="metrics"' not in line
        ):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def run(locustfile: str, extra: list[str], platform, api_key: str, args) -> float:
    command = [
        "taskset", "-c", "1", sys.executable, "-m", "locust", "-f", locustfile, "--headless", "--host", platform.url,
        "-u", str(args.users), "-r", str(args.users), "-t", f"{args.duration}s", "--only-summary",
        "--results-requests", "none", *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return steady_rps(
        command,
        platform.url,
        args.duration,
        env,
        WARMUP_S,
        counter=lambda: served(platform, api_key),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--users", type=int, default=40)
    args = parser.parse_args()
    mix = yaml.safe_load(DEFAULT_MIX_FILE.read_text())
    mix["mix"] = {"dashboards": 35, "logs": 25, "traces": 20}
    mix["think_time"] = {"min": 0, "max": 0}
    api_key = load_population().tenants[0].api_key
    platform = start_platform()
    subprocess.run(
        ["taskset", "-pc", "0", str(platform.process.pid)], check=True, capture_output=True
    )
    rps: dict[str, list[float]] = {"raw FastHttpUser GETs": [], "obstack-load ApiUser": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            mix_file = Path(tmp) / "mix.yaml"
            mix_file.write_text(yaml.safe_dump(mix))
            db = ["--results-db", str(Path(tmp) / "r.db")]
            for round_number in range(args.rounds):
                rps["raw FastHttpUser GETs"].append(
                    run("benchmarks/locustfiles/raw_api_gets.py", [*db], platform, api_key, args)
                )
                rps["obstack-load ApiUser"].append(
                    run(
                        "locustfiles/api.py",
                        ["--api-mix", str(mix_file), *db],
                        platform,
                        api_key,
                        args,
                    )
                )
                print(
                    f"round {round_number + 1}: "
                    + ", ".join(f"{k} {v[-1]:,.0f} req/s" for k, v in rps.items()),
                    flush=True,
                )
    finally:
        platform.stop()
    ratio = statistics.median(
        a / r
        for r, a in zip(rps["raw FastHttpUser GETs"], rps["obstack-load ApiUser"], strict=True)
    )
    print()
    print("| variant | median GET requests/s |")
    print("| --- | ---: |")
    for name, values in rps.items():
        print(f"| {name} | {statistics.median(values):,.0f} |")
    print(f"\nApiUser / raw GETs (median of per-round ratios): {ratio:.3f}")


if __name__ == "__main__":
    main()

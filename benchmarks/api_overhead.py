"""The API users' requests/s against raw FastHttpUser GETs of the same endpoints, in one run.

Both variants hit the reference platform (pinned to CPU 0) from one Locust process pinned to
CPU 1, with no think time: the API users with a read-only mix (dashboards with their panels,
log search with paging, trace search and lookup), logging in, validating every answer's shape and
tenant; the raw users replaying exactly the GETs the API users made in a recording run before
(same tenants, same URLs and queries, so the same work for the platform), with a token and no
checks. Variants alternate.

Two targets, measured in the same rounds:

* ``cache``: nginx in front of the platform (both on CPU 0), answering each GET from its cache
  after the first time a caller asked for that URL (the key holds the caller's token). The
  target is then not the limit, so the ratio is the generator's. Requests/s are counted by
  nginx itself (stub_status); the share the platform still served is printed.
* ``platform``: the platform directly. Its own /metrics counts the GETs. It runs at 83 to 92%
  CPU here, so this ratio measures the target as much as the generator: kept as a second figure.

    python benchmarks/api_overhead.py [--rounds 3] [--duration 15] [--users 40] [--target both]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import tests  # noqa: E402, F401  (patches gevent before requests loads ssl, as the tests do)
from benchmarks.sink import nginx_cache, requests_served, steady_rps  # noqa: E402
from obstack_load.core.tenants import load_population  # noqa: E402
from obstack_load.users.api_mix import DEFAULT_MIX_FILE  # noqa: E402
from tests.support import start_platform  # noqa: E402

WARMUP_S = 4
PLATFORM_CPU: list[float] = []  # the platform's CPU % (100 = its one core) in each measured window


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


def run(
    locustfile: str, extra: list[str], platform, api_key: str, args, cache: str | None = None
) -> float:
    """Requests/s of one variant against the platform, or through ``cache`` (nginx's URL)."""
    command = [
        "taskset", "-c", "1", sys.executable, "-m", "locust", "-f", locustfile, "--headless",
        "--host", cache or platform.url,
        "-u", str(args.users), "-r", str(args.users), "-t", f"{args.duration}s", "--only-summary",
        "--results-requests", "none", *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cpu_readings: list[tuple[float, float]] = []
    process = psutil.Process(platform.process.pid)

    def counter() -> int:  # also reads the platform's CPU time at the same two moments
        times = process.cpu_times()
        cpu_readings.append((time.monotonic(), times.user + times.system))
        return requests_served(cache) if cache else served(platform, api_key)

    rps = steady_rps(command, platform.url, args.duration, env, WARMUP_S, counter=counter)
    (t0, c0), (t1, c1) = cpu_readings
    PLATFORM_CPU.append(100 * (c1 - c0) / (t1 - t0))
    return rps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--target", choices=("both", "cache", "platform"), default="both")
    args = parser.parse_args()
    targets = ["cache", "platform"] if args.target == "both" else [args.target]
    mix = yaml.safe_load(DEFAULT_MIX_FILE.read_text())
    mix["mix"] = {"dashboards": 35, "logs": 25, "traces": 20}
    mix["think_time"] = {"min": 0, "max": 0}
    api_key = load_population().tenants[0].api_key
    platform = start_platform()
    subprocess.run(
        ["taskset", "-pc", "0", str(platform.process.pid)], check=True, capture_output=True
    )
    variants = {
        "raw FastHttpUser GETs": ("benchmarks/locustfiles/replay_api_gets.py", []),
        "obstack-load ApiUser": ("locustfiles/api.py", ["api"]),
        "obstack-load ApiUser, --api-transport fasthttp": (
            "locustfiles/api.py",
            ["api", "--api-transport", "fasthttp"],
        ),
    }
    rps: dict[tuple[str, str], list[float]] = {(t, n): [] for t in targets for n in variants}
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            nginx_cache(platform.url.removeprefix("http://"), cpu="0") as cache,
        ):
            mix_file = Path(tmp) / "mix.yaml"
            mix_file.write_text(yaml.safe_dump(mix))
            common = ["--results-db", str(Path(tmp) / "r.db")]
            api = ["--api-mix", str(mix_file)]
            # first, record what the API users ask for, so that the raw users ask for the same
            recording = Path(tmp) / "recording.json"
            os.environ["OBSTACK_BENCH_RECORDING"] = str(recording)
            run("benchmarks/locustfiles/record_api.py", [*common, *api], platform, api_key, args)
            PLATFORM_CPU.clear()
            print(f"recorded {len(json.loads(recording.read_text())):,} GETs to replay", flush=True)
            for round_number in range(args.rounds):
                for target in targets:
                    for name, (locustfile, extra) in variants.items():
                        options = [*common, *(api if extra[:1] == ["api"] else []), *extra[1:]]
                        through = cache if target == "cache" else None
                        rps[(target, name)].append(
                            run(locustfile, options, platform, api_key, args, through)
                        )
                    cpu = ", ".join(f"{c:.0f}%" for c in PLATFORM_CPU[-len(variants) :])
                    print(
                        f"round {round_number + 1}, {target}: "
                        + ", ".join(f"{n} {rps[(target, n)][-1]:,.0f} req/s" for n in variants)
                        + f" (platform CPU {cpu})",
                        flush=True,
                    )
    finally:
        platform.stop()
    for target in targets:
        raw = rps[(target, "raw FastHttpUser GETs")]
        print()
        print(f"target: {target}")
        print("| variant | median GET requests/s | ratio to raw (median of rounds) |")
        print("| --- | ---: | ---: |")
        for name in variants:
            values = rps[(target, name)]
            ratio = statistics.median(v / r for v, r in zip(values, raw, strict=True))
            print(f"| {name} | {statistics.median(values):,.0f} | {ratio:.3f} |")


if __name__ == "__main__":
    main()

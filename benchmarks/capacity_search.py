"""The uncapped reference platform's capacity on one core, found by ``obstack-load capacity``.

The platform is pinned to one CPU and the generator to the other, as platform_capacity.py pins
the platform and wrk, so the two figures can be set side by side. It searches with the given
locustfile and SLOs, prints the finding, and writes the latency chart as a PNG for the docs.

    python benchmarks/capacity_search.py [--locustfile locustfiles/mixed.py]
        [--capacity-slo 'p(95)<500' --capacity-slo 'rate<0.01'] [--capacity-step-time 20] [--png docs/images/capacity.png]
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from obstack_load.analysis.charts import render  # noqa: E402
from obstack_load.capacity.report import latency_chart  # noqa: E402
from tests.support import start_platform  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locustfile", default="locustfiles/mixed.py")
    parser.add_argument("--capacity-slo", action="append", default=None)
    parser.add_argument("--capacity-start", type=float, default=50)
    parser.add_argument("--capacity-max", type=float, default=5000)
    parser.add_argument("--capacity-step-time", type=float, default=20)
    parser.add_argument("--capacity-settle", type=float, default=5)
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--platform-cpu", default="0")
    parser.add_argument("--generator-cpu", default="1")
    parser.add_argument("--png", default="docs/images/capacity-mixed.png")
    parser.add_argument(
        "--locust-args", default="--otlp-users-per-signal 1 --otlp-total-rate 1000",
        help="more Locust options: by default mixed.py's ingestion underneath at a fixed 1,000 "
        "items/s per signal (normal.conf's), so the search offers API sessions only",
    )  # fmt: skip
    args = parser.parse_args()
    slos = args.capacity_slo or ["p(95)<500", "rate<0.01"]
    platform = start_platform()
    try:
        subprocess.run(["taskset", "-pc", args.platform_cpu, str(platform.process.pid)],
                       check=True, capture_output=True)  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            summary = Path(tmp) / "summary.json"
            command = [
                "taskset", "-c", args.generator_cpu, sys.executable, "-m", "locust",
                "-f", args.locustfile, "--headless", "--only-summary", "--host", platform.url,
                "-u", str(args.users), "-r", str(args.users), "-t", "1800s",
                "--stop-timeout", "10", "--capacity-search", "--capacity-start", str(args.capacity_start),
                "--capacity-max", str(args.capacity_max), "--capacity-step-time", str(args.capacity_step_time),
                "--capacity-settle", str(args.capacity_settle), "--summary-json", str(summary),
                "--capacity-report", str(Path(tmp) / "capacity.html"),
                "--results-db", str(Path(tmp) / "results.db"),
            ]  # fmt: skip
            for slo in slos:
                command += ["--capacity-slo", slo]
            command += shlex.split(args.locust_args)
            subprocess.run(command, cwd=REPO, capture_output=True, check=False)
            capacity = json.loads(summary.read_text())["capacity"]
    finally:
        platform.stop()
    png = REPO / args.png
    png.parent.mkdir(parents=True, exist_ok=True)
    png.write_bytes(render(latency_chart(capacity), "png", width=8, height=3.2))
    print(json.dumps(capacity, indent=2, default=str))
    print()
    print(
        "| offered/s | iterations/s | requests/s | p95 ms (corrected) | raw p95 ms | platform CPU "
        "| generator CPU | held |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for s in sorted(capacity["steps"], key=lambda s: s["offered_rate"]):
        print(f"| {s['offered_rate']:,.0f} | {s['iterations_per_s']:,.0f} | {s['achieved_rps']:,.0f} | {s['p95_ms']} | "
              f"{s['raw_p95_ms']} | {(s['target_cpu'] or 0) * 100:.0f}% | "
              f"{(s['generator_cpu'] or 0) * 100:.0f}% | {'yes' if s['passed'] else 'no'} |")  # fmt: skip
    print()
    print(" ".join(capacity["finding"]["words"]))
    print(f"chart: {args.png}")


if __name__ == "__main__":
    main()

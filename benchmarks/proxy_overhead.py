"""The fault proxy's own cost: wrk against the platform straight, and through a proxy with no
toxic, side by side on the same cores, taking turns.

    python benchmarks/proxy_overhead.py [--duration 8] [--rounds 3] [--connections 32]

The platform and the proxy share CPU 0, wrk has CPU 1; the ratio of requests/s and the latency
added per request are the proxy's overhead. Needs wrk and taskset.
"""

from __future__ import annotations

import argparse
import json
import queue
import re
import statistics
import subprocess
import sys
import threading
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support import start_platform  # noqa: E402


def wrk(url: str, args) -> dict:
    out = subprocess.run(
        ["taskset", "-c", args.wrk_cpu, "wrk", "-t1", f"-c{args.connections}",
         f"-d{args.duration}s", "--latency", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "avg_ms": ms("Latency"), "p99_ms": ms("99%")}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--target-cpu", default="0")
    parser.add_argument("--wrk-cpu", default="1")
    args = parser.parse_args()
    platform = start_platform()
    proxy = subprocess.Popen(
        ["taskset", "-c", args.target_cpu, sys.executable, "-m", "obstack_load.cli", "proxy",
         "--port", "0"], cwd=REPO, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        subprocess.run(["taskset", "-pc", args.target_cpu, str(platform.process.pid)],
                       check=True, capture_output=True)  # fmt: skip
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in proxy.stdout], daemon=True).start()
        api = lines.get(timeout=60).split(" on ", 1)[1].strip()
        upstream = platform.url.removeprefix("http://")
        made = requests.post(f"{api}/proxies", json={"name": "platform", "listen": "127.0.0.1:0",
                                                     "upstream": upstream}, timeout=30).json()  # fmt: skip
        targets = {"direct": f"{platform.url}/healthz",
                   "through the proxy": f"http://{made['listen']}/healthz"}  # fmt: skip
        results: dict[str, list[dict]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, url in targets.items():
                results[name].append(wrk(url, args))
    finally:
        proxy.terminate()
        platform.stop()
    print(json.dumps(results, indent=2))
    med = {n: {k: statistics.median(r[k] for r in rs) for k in ("rps", "avg_ms", "p99_ms")}
           for n, rs in results.items()}  # fmt: skip
    direct, proxied = med["direct"], med["through the proxy"]
    print()
    print("| path | requests/s | avg ms | p99 ms |")
    print("| --- | ---: | ---: | ---: |")
    for name, m in med.items():
        print(f"| {name} | {m['rps']:,.0f} | {m['avg_ms']:.2f} | {m['p99_ms']:.2f} |")
    print(f"\nthroughput ratio {proxied['rps'] / direct['rps']:.3f}; "
          f"added latency {proxied['avg_ms'] - direct['avg_ms']:.2f} ms on average")  # fmt: skip


if __name__ == "__main__":
    main()

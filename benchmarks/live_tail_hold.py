"""1,000 live-tail WebSockets held for 5 minutes on one generator core, with logs flowing.

The reference platform and an ingesting Locust (``LogsIngestUser``, holding ``--ingest-rate``
log records/s in batches of ``--batch``) share CPU 0; the live-tail Locust (only WebSocket
users) is pinned to CPU 1, so its figures are one core's. Every ingested batch is one live-tail
message to each subscriber of its tenant. Reports connections made and dropped, messages
received per second, and delivery latency percentiles.

    python benchmarks/live_tail_hold.py [--connections 1000] [--minutes 5] [--ingest-rate 2000] [--batch 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import tests  # noqa: E402, F401  (patches gevent before requests loads ssl, as the tests do)
from tests.support import start_platform  # noqa: E402


def locust(cpu: str, *args: str) -> subprocess.Popen:
    command = [
        "taskset",
        "-c",
        cpu,
        sys.executable,
        "-m",
        "locust",
        "--headless",
        "--only-summary",
        *args,
    ]
    return subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--ingest-users", type=int, default=20)
    parser.add_argument("--ingest-rate", type=int, default=2000, help="log records/s in total")
    parser.add_argument("--batch", type=int, default=10, help="log records per ingest request")
    args = parser.parse_args()
    run_time = f"{int(args.minutes * 60)}s"
    platform = start_platform("--max-log-records", "20000")
    subprocess.run(
        ["taskset", "-pc", "0", str(platform.process.pid)], check=True, capture_output=True
    )
    with tempfile.TemporaryDirectory() as tmp:
        live_summary = Path(tmp) / "live.json"
        live = locust(
            "1", "-f", "locustfiles/live.py", "--host", platform.url, "-u", str(args.connections), "-r", "100",
            "-t", run_time, "--summary-json", str(live_summary), "--results-db", str(Path(tmp) / "live.db"),
        )  # fmt: skip
        ingest = locust(
            "0", "-f", "locustfiles/ingest.py", "LogsIngestUser", "--host", platform.url,
            "-u", str(args.ingest_users), "-r", "20", "-t", run_time, "--results-db", str(Path(tmp) / "ingest.db"),
            "--otlp-total-rate", str(args.ingest_rate), "--otlp-batch-size", str(args.batch),
        )  # fmt: skip
        try:
            live.communicate(timeout=args.minutes * 60 + 300)
            ingest.communicate(timeout=300)
        finally:
            for process in (live, ingest):
                if process.poll() is None:
                    process.kill()
            platform.stop()
        summary = json.loads(live_summary.read_text())
    ws = {r["name"]: r for r in summary["requests"] if r["method"] == "WS"}
    connect, message = ws.get("connect", {}), ws.get("message", {})
    dropped = ws.get("connection dropped", {}).get("requests", 0)
    print(
        f"connections: {connect.get('requests', 0)} made, {connect.get('failures', 0)} failed, {dropped} dropped, held {run_time}"
    )
    print(f"connect time p50 {connect.get('p50_ms')} ms, p95 {connect.get('p95_ms')} ms")
    print(
        f"messages: {message.get('requests', 0):,} received, {message.get('rps', 0):,.0f}/s on one core"
    )
    print(
        f"delivery latency p50 {message.get('p50_ms')} ms, p95 {message.get('p95_ms')} ms, p99 {message.get('p99_ms')} ms"
    )
    print(f"generator-bound: {summary.get('results', {}).get('generator_bound')}")


if __name__ == "__main__":
    main()

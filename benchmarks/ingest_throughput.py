"""Ingestion users against raw Locust posting a constant body of the same size, in one run.

For each signal, three variants alternate round by round: raw ``FastHttpUser`` posting one real
pooled body of the suite's mean size over and over, and the suite's ``<Signal>IngestUser``
(``locustfiles/ingest.py`` exactly as a user runs it, plugins included, default knobs: 100
items per request, protobuf, gzip, pooled bodies) over its default lean transport and over
``--otlp-transport fasthttp``. Both post to nginx answering 200 (pinned to
CPU 0) from one Locust process pinned to CPU 1; requests/s are counted by nginx itself between
two readings inside each run. Items/s = requests/s x items per request.

    python benchmarks/ingest_throughput.py [--rounds 3] [--duration 14] [--users 20]
    python benchmarks/ingest_throughput.py --fresh     # the suite alone, every body built fresh
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import tests  # noqa: E402, F401  (patches gevent before requests loads ssl, as the tests do)
from benchmarks.sink import nginx_sink, steady_rps  # noqa: E402
from obstack_load.core.tenants import load_population  # noqa: E402
from obstack_load.telemetry.payloads import encode_payload  # noqa: E402
from obstack_load.users.ingest import make_generator  # noqa: E402
from obstack_load.users.ingest_options import IngestSettings  # noqa: E402

WARMUP_S = 3
CLASSES = {"logs": "LogsIngestUser", "metrics": "MetricsIngestUser", "traces": "TracesIngestUser"}


def typical_body(signal: str, settings: IngestSettings) -> tuple[bytes, float]:
    """A real pooled body whose size is nearest the pool's mean, and that mean."""
    generator = make_generator(signal, settings, random.Random(f"1:0:{signal}"), 1)
    bodies = [
        encode_payload(
            signal, generator.batch(settings.batch_size), settings.content_type, True
        ).body
        for _ in range(settings.pool_size)
    ]
    mean = statistics.mean(len(b) for b in bodies)
    return min(bodies, key=lambda b: abs(len(b) - mean)), mean


def run(locustfile: str, extra: list[str], host: str, env: dict[str, str], args) -> float:
    command = [
        "taskset", "-c", "1", sys.executable, "-m", "locust", "-f", locustfile, "--headless",
        "--host", host, "-u", str(args.users), "-r", str(args.users), "-t", f"{args.duration}s",
        "--only-summary", "--stop-timeout", "5", *extra,
    ]  # fmt: skip
    return steady_rps(command, host, args.duration, env, WARMUP_S)


def fresh_bodies(args) -> None:
    """Items/s per signal when every body is built, encoded and gzipped as it is sent."""
    print("| signal | suite req/s, --otlp-pool-size 0 (median of rounds) | items/s |")
    print("| --- | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp, nginx_sink(cpu="0") as host:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        for signal in args.signals.split(","):
            options = [
                CLASSES[signal],
                "--results-db",
                str(Path(tmp) / "r.db"),
                "--otlp-pool-size",
                "0",
            ]
            rps = [
                run("locustfiles/ingest.py", options, host, env, args) for _ in range(args.rounds)
            ]
            print(
                f"| {signal} | {statistics.median(rps):,.0f} | {statistics.median(rps) * 100:,.0f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=14)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--signals", default="logs,metrics,traces")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="instead: the suite alone with --otlp-pool-size 0 (every body built when sent)",
    )
    args = parser.parse_args()
    if args.fresh:
        fresh_bodies(args)
        return
    settings = IngestSettings()
    table = []
    with tempfile.TemporaryDirectory() as tmp, nginx_sink(cpu="0") as host:
        for signal in args.signals.split(","):
            body, mean = typical_body(signal, settings)
            body_path = Path(tmp) / f"{signal}.bin"
            body_path.write_bytes(body)
            env = {
                **os.environ, "PYTHONPATH": str(REPO), "OBSTACK_BENCH_BODY": str(body_path),
                "OBSTACK_BENCH_PATH": f"/v1/{signal}",
                "OBSTACK_BENCH_KEY": load_population().tenants[0].api_key,
            }  # fmt: skip
            suite_args = [CLASSES[signal], "--results-db", str(Path(tmp) / "results.db")]
            rps: dict[str, list[float]] = {"raw": [], "lean": [], "fasthttp": []}
            for round_number in range(args.rounds):
                rps["raw"].append(
                    run("benchmarks/locustfiles/raw_otlp_post.py", [], host, env, args)
                )
                rps["lean"].append(run("locustfiles/ingest.py", suite_args, host, env, args))
                fasthttp = [*suite_args, "--otlp-transport", "fasthttp"]
                rps["fasthttp"].append(run("locustfiles/ingest.py", fasthttp, host, env, args))
                print(
                    f"{signal} round {round_number + 1}: "
                    + ", ".join(f"{k} {v[-1]:,.0f} req/s" for k, v in rps.items()),
                    flush=True,
                )
            raw_rps = statistics.median(rps["raw"])
            for transport in ("lean", "fasthttp"):
                pairs = zip(rps[transport], rps["raw"], strict=True)
                ratio = statistics.median(suite / raw for suite, raw in pairs)
                suite_rps = statistics.median(rps[transport])
                items = suite_rps * settings.batch_size
                table.append((signal, transport, len(body), mean, raw_rps, suite_rps, ratio, items))
    print()
    print(
        "| signal | suite transport | constant body (bytes) | suite mean body "
        "| raw FastHttpUser req/s | suite req/s | ratio (median of rounds) | suite items/s |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for signal, transport, size, mean, raw_rps, suite_rps, ratio, items in table:
        print(
            f"| {signal} | {transport} | {size:,} | {mean:,.0f} | {raw_rps:,.0f} "
            f"| {suite_rps:,.0f} | {ratio:.3f} | {items:,.0f} |"
        )


if __name__ == "__main__":
    main()

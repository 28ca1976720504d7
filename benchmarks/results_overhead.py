"""Overhead of the results plugin: requests/s with --results-requests all into PostgreSQL,
against the same GETs with no plugin, and against locust-plugins' Timescale listener.

Variants alternate round by round in one run, each Locust pinned to the same core, the
reference platform and PostgreSQL on the other, so drift of the shared machine hits all alike.

    python benchmarks/results_overhead.py [--rounds 3] [--duration 15] [--users 20]

Needs the bench extra (pip install -e '.[bench]') and PostgreSQL server binaries.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.postgres import start_postgres  # noqa: E402
from tests.support import start_platform  # noqa: E402

TIMESCALE_SCHEMA = Path("locust_plugins/dashboards/locust-timescale/timescale_schema.sql")


def timescale_schema() -> str:
    import locust_plugins

    path = Path(locust_plugins.__file__).parent.parent / TIMESCALE_SCHEMA
    # plain PostgreSQL here: keep the tables, drop TimescaleDB-only and ownership lines
    skip = ("CREATE EXTENSION", "COMMENT ON EXTENSION", "OWNER TO")
    return "\n".join(
        line for line in path.read_text().splitlines() if not any(s in line for s in skip)
    )


def run_variant(
    locustfile: str, extra: list[str], host: str, args, cpu: str, workdir: Path
) -> tuple[float, int]:
    prefix = workdir / "stats"
    command = [
        "taskset", "-c", cpu, sys.executable, "-m", "locust", "-f", locustfile, "--headless", "--host", host,
        "-u", str(args.users), "-r", str(args.users), "-t", f"{args.duration}s", "--csv", str(prefix),
        "--only-summary", "--stop-timeout", "5", *extra,
    ]  # fmt: skip
    result = subprocess.run(
        command,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=args.duration + 180,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    if result.returncode not in (0, 1):
        raise SystemExit(f"{locustfile} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    with open(f"{prefix}_stats.csv") as handle:
        total = next(row for row in csv.DictReader(handle) if row["Name"] == "Aggregated")
    return float(total["Requests/s"]), int(total["Request Count"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--locust-cpu", default="1")
    parser.add_argument("--target-cpu", default="0")
    args = parser.parse_args()

    postgres = start_postgres()
    platform = start_platform()
    subprocess.run(
        ["taskset", "-pc", args.target_cpu, str(platform.process.pid)],
        check=True,
        capture_output=True,
    )
    import psycopg

    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute(timescale_schema())
    pg = [
        "--pghost",
        "127.0.0.1",
        "--pgport",
        str(postgres.port),
        "--pguser",
        "obstack",
        "--pgdatabase",
        "obstack",
    ]
    variants = {
        "plugin off": ("benchmarks/locustfiles/plain_get.py", []),
        "obstack-load results, all rows, PostgreSQL": (
            "benchmarks/locustfiles/results_get.py",
            ["--results-db", postgres.dsn, "--results-requests", "all"],
        ),
        "obstack-load results, aggregates only": (
            "benchmarks/locustfiles/results_get.py",
            ["--results-db", postgres.dsn, "--results-requests", "none"],
        ),
        "locust-plugins Timescale listener": (
            "benchmarks/locustfiles/timescale_get.py",
            ["--timescale", *pg, "--pgpassword", "pg-test-Secr3t"],
        ),
    }
    rps: dict[str, list[float]] = {name: [] for name in variants}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for round_number in range(args.rounds):
                for name, (locustfile, extra) in variants.items():
                    value, count = run_variant(
                        locustfile, extra, platform.url, args, args.locust_cpu, Path(tmp)
                    )
                    rps[name].append(value)
                    print(
                        f"round {round_number + 1} {name}: {value:,.0f} req/s ({count} requests)",
                        flush=True,
                    )
            with psycopg.connect(postgres.dsn) as conn:
                ours = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
                theirs = conn.execute("SELECT COUNT(*) FROM request").fetchone()[0]
    finally:
        platform.stop()
        postgres.stop("immediate")
    base = statistics.median(rps["plugin off"])
    print()
    print("| variant | median requests/s | ratio to plugin off | rows stored (all rounds) |")
    print("| --- | ---: | ---: | ---: |")
    stored = {
        "plugin off": "-",
        "obstack-load results, all rows, PostgreSQL": f"{ours:,}",
        "obstack-load results, aggregates only": "0 raw rows",
        "locust-plugins Timescale listener": f"{theirs:,}",
    }
    for name, values in rps.items():
        median = statistics.median(values)
        print(f"| {name} | {median:,.0f} | {median / base:.3f} | {stored[name]} |")


if __name__ == "__main__":
    main()

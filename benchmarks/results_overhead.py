"""Overhead of the results plugin: requests/s with --results-requests all into PostgreSQL,
against the same GETs with no plugin, and against locust-plugins' Timescale listener.

Variants alternate round by round in one run, and each round starts and ends with the plugin
off; the mean of those two is the round's baseline. Locust is pinned to one core; the target (nginx,
far faster than one Locust core) and PostgreSQL to the other, so the generator alone sets the
pace and the machine's drift hits all variants alike. Requests/s are counted by nginx itself
between two readings well inside each run, so start-up and the final flush are excluded.

    python benchmarks/results_overhead.py [--rounds 5] [--duration 14] [--users 20]

Needs the bench extra (pip install -e '.[bench]'), nginx, and PostgreSQL server binaries.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import tests  # noqa: E402, F401  (patches gevent before requests loads ssl, as the tests do)
from benchmarks.sink import nginx_sink, steady_rps  # noqa: E402
from tests.postgres import start_postgres  # noqa: E402

WARMUP_S = 3
TIMESCALE_SCHEMA = Path("locust_plugins/dashboards/locust-timescale/timescale_schema.sql")


def timescale_schema() -> str:
    import locust_plugins

    path = Path(locust_plugins.__file__).parent.parent / TIMESCALE_SCHEMA
    # plain PostgreSQL here: keep the tables, drop TimescaleDB-only and ownership lines
    skip = ("CREATE EXTENSION", "COMMENT ON EXTENSION", "OWNER TO")
    return "\n".join(
        line for line in path.read_text().splitlines() if not any(s in line for s in skip)
    )


def results_variants(dsn: str) -> dict[str, tuple[str, list[str]]]:
    """Locustfile and options of the same GETs with the plugin off, and with the results plugin
    keeping every row or aggregates only (``worker_profile.py`` profiles the same three)."""
    return {
        "plugin off": ("benchmarks/locustfiles/plain_get.py", []),
        "obstack-load results, all rows, PostgreSQL": (
            "benchmarks/locustfiles/results_get.py",
            ["--results-db", dsn, "--results-requests", "all"],
        ),
        "obstack-load results, aggregates only": (
            "benchmarks/locustfiles/results_get.py",
            ["--results-db", dsn, "--results-requests", "none"],
        ),
    }


def run_variant(locustfile: str, extra: list[str], host: str, args) -> float:
    command = [
        "taskset", "-c", args.locust_cpu, sys.executable, "-m", "locust", "-f", locustfile, "--headless",
        "--host", host, "-u", str(args.users), "-r", str(args.users), "-t", f"{args.duration}s",
        "--only-summary", "--stop-timeout", "5", *extra,
    ]  # fmt: skip
    return steady_rps(
        command, host, args.duration, {**os.environ, "PYTHONPATH": str(REPO)}, WARMUP_S
    )


def pin(pids: list[int], cpu: str) -> None:
    for pid in pids:
        subprocess.run(["taskset", "-pc", cpu, str(pid)], check=False, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=14)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--locust-cpu", default="1")
    parser.add_argument("--target-cpu", default="0")
    args = parser.parse_args()

    import psycopg

    postgres = start_postgres()
    # the postmaster and its background processes (WAL writer, checkpointer...); new backends
    # inherit the postmaster's affinity when it forks them
    postmaster = int((postgres.datadir / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(
        ["pgrep", "-P", str(postmaster)], capture_output=True, text=True
    ).stdout.split()
    pin([postmaster, *map(int, children)], args.target_cpu)
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
        **results_variants(postgres.dsn),
        "locust-plugins Timescale listener": (
            "benchmarks/locustfiles/timescale_get.py",
            ["--timescale", *pg, "--pgpassword", "pg-test-Secr3t"],
        ),
    }
    rps: dict[str, list[float]] = {name: [] for name in variants}
    try:
        with nginx_sink(args.target_cpu) as host:
            for round_number in range(args.rounds):
                # plugin off both first and last in each round: a round's baseline is the mean
                # of the two, so a drift of the machine during the round cancels out
                for name in [*variants, "plugin off"]:
                    locustfile, extra = variants[name]
                    rps[name].append(run_variant(locustfile, extra, host, args))
                    print(
                        f"round {round_number + 1} {name}: {rps[name][-1]:,.0f} req/s", flush=True
                    )
                first, last = rps["plugin off"][-2:]
                rps["plugin off"][-2:] = [(first + last) / 2]
        with psycopg.connect(postgres.dsn) as conn:
            ours = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
            theirs = conn.execute("SELECT COUNT(*) FROM request").fetchone()[0]
    finally:
        postgres.stop("immediate")
    stored = {
        "plugin off": "-",
        "obstack-load results, all rows, PostgreSQL": f"{ours:,}",
        "obstack-load results, aggregates only": "0 raw rows",
        "locust-plugins Timescale listener": f"{theirs:,}",
    }
    print()
    print("Ratios are medians of per-round ratios to the mean of the round's two plugin-off runs.")
    print("| variant | median requests/s | ratio to plugin off | rows stored (all rounds) |")
    print("| --- | ---: | ---: | ---: |")
    for name, values in rps.items():
        ratio = statistics.median(v / b for v, b in zip(values, rps["plugin off"], strict=True))
        print(f"| {name} | {statistics.median(values):,.0f} | {ratio:.3f} | {stored[name]} |")


if __name__ == "__main__":
    main()

"""The database users against pgbench running the same statements, side by side in one run.

PostgreSQL (started here, seeded by ``obstack-load db seed``) is pinned to one core; pgbench and
Locust take turns on the other, with the same client count, closed loop with no think time,
the same statement and the same parameters (one tenant, a uniformly drawn series), both with
prepared statements (psycopg prepares a statement from its fifth execution; pgbench with
``-M prepared``). pgbench
(C, libpq) is the floor of what a client costs, so the ratio says how much of the database's
throughput a Python/gevent generator leaves on the table, and how much latency it adds.

    python benchmarks/db_vs_pgbench.py [--rows 1000000] [--clients 8] [--duration 20]
        [--rounds 3] [--statements dashboard_query,join]

Needs PostgreSQL's server and pgbench (Debian: postgresql, postgresql-contrib) and taskset.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from obstack_load.users.database import DASHBOARD_QUERY, JOIN  # noqa: E402
from tests.postgres import find_bin, seeded_database, start_postgres  # noqa: E402

TENANT = "tenant-01"
PGBENCH_STATEMENTS = {
    # pgbench substitutes :variables; psycopg's %s placeholders become them
    "dashboard_query": "\\set series random(1, {series})\n"
    + DASHBOARD_QUERY.replace("%s", f"'{TENANT}'", 1).replace("%s", ":series")
    + ";\n",
    "join": JOIN.replace("%s", f"'{TENANT}'") + ";\n",
}


def pgbench(dsn: str, statement: str, series: int, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "statement.sql"
        script.write_text(PGBENCH_STATEMENTS[statement].format(series=series))
        out = subprocess.run(
            ["taskset", "-c", args.client_cpu, find_bin("pgbench"), "-n", "-M", "prepared",
             "-c", str(args.clients), "-j", "1", "-T", str(args.duration), "-f", str(script),
             "-l", "--log-prefix", str(Path(tmp) / "log"), dsn],
            capture_output=True, text=True, check=True, cwd=tmp,
        ).stdout  # fmt: skip
        latencies = sorted(
            int(line.split()[2]) / 1000
            for log in Path(tmp).glob("log*")
            for line in log.read_text().splitlines()
        )
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    return {"tps": tps, "avg_ms": statistics.fmean(latencies),
            "p50_ms": latencies[len(latencies) // 2],
            "p95_ms": latencies[int(len(latencies) * 0.95)], "transactions": len(latencies)}  # fmt: skip


def locust(dsn: str, statement: str, series: int, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "summary.json"
        env = {**os.environ, "OBSTACK_BENCH_STATEMENT": statement, "OBSTACK_BENCH_TENANT": TENANT,
               "OBSTACK_BENCH_SERIES": str(series)}  # fmt: skip
        subprocess.run(
            ["taskset", "-c", args.client_cpu, sys.executable, "-m", "locust",
             "-f", "benchmarks/locustfiles/db_statement.py", "--headless", "--only-summary",
             "-u", str(args.clients), "-r", str(args.clients), "-t", f"{args.duration}s",
             "--stop-timeout", "10", "--db-target", dsn, "--summary-json", str(summary),
             "--results-db", str(Path(tmp) / "results.db")],
            capture_output=True, text=True, check=True, cwd=REPO, env=env, timeout=args.duration * 4 + 120,
        )  # fmt: skip
        entry = next(
            r for r in json.loads(summary.read_text())["requests"] if r["name"] == f"db {statement}"
        )
    return {"tps": entry["rps"], "avg_ms": entry["avg_ms"], "p50_ms": entry["p50_ms"],
            "p95_ms": entry["p95_ms"], "transactions": entry["requests"],
            "failures": entry["failures"]}  # fmt: skip


def client_cpu(run, *args) -> dict:
    """``run``'s figures plus the client's CPU seconds per 1,000 transactions: the generator's
    own cost, which a saturated database hides from the transactions/s."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    measured = run(*args)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    measured["cpu_s_per_1k"] = cpu / measured["transactions"] * 1000
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--statements", default="dashboard_query,join")
    parser.add_argument("--db-cpu", default="0")
    parser.add_argument("--client-cpu", default="1")
    args = parser.parse_args()
    if not find_bin("pgbench") or not shutil.which("taskset"):
        raise SystemExit(
            "benchmarks/db_vs_pgbench.py: needs pgbench (postgresql-contrib) and taskset"
        )
    server = start_postgres()
    try:
        postmaster = (server.datadir / "postmaster.pid").read_text().split()[0]
        subprocess.run(
            ["taskset", "-apc", args.db_cpu, postmaster], check=True, capture_output=True
        )
        dsn = seeded_database(server, "bench", args.rows)
        import psycopg

        with psycopg.connect(dsn) as conn:
            series = conn.execute(
                "SELECT count(*) FROM metric_series WHERE tenant_id = %s", (TENANT,)
            ).fetchone()[0]
        results: dict[str, dict[str, list[dict]]] = {}
        for statement in args.statements.split(","):
            for _ in range(args.rounds):
                for name, run in (("pgbench", pgbench), ("locust", locust)):
                    measured = client_cpu(run, dsn, statement, series, args)
                    print(statement, name, measured, flush=True)
                    results.setdefault(statement, {}).setdefault(name, []).append(measured)
    finally:
        server.stop("fast")
    print(json.dumps(results, indent=2))
    print()
    print("| statement | tx/s, pgbench | tx/s, Locust | ratio | avg ms, pgbench | avg ms, Locust "
          "| p95 ms, pgbench | p95 ms, Locust | client CPU s per 1k tx, pgbench | Locust |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for statement, by_tool in results.items():
        keys = ("tps", "avg_ms", "p95_ms", "cpu_s_per_1k")
        med = {tool: {k: statistics.median(r[k] for r in runs) for k in keys}
               for tool, runs in by_tool.items()}  # fmt: skip
        pg, lo = med["pgbench"], med["locust"]
        print(f"| {statement} | {pg['tps']:,.0f} | {lo['tps']:,.0f} | {lo['tps'] / pg['tps']:.3f} "
              f"| {pg['avg_ms']:.2f} | {lo['avg_ms']:.2f} | {pg['p95_ms']:.2f} | {lo['p95_ms']:.0f} "
              f"| {pg['cpu_s_per_1k']:.3f} | {lo['cpu_s_per_1k']:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()

"""How fast ``obstack-load db seed`` fills the platform's PostgreSQL schema, on a throwaway
server started here (as the tests do).

    python benchmarks/db_seed.py [--rows 10000000] [--days 7]

Prints the seeder's own progress (points/s as it goes), its total time, and the table's size.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402

from tests.postgres import start_postgres  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    server = start_postgres()
    try:
        dsn = server.database("seed_bench")
        subprocess.run(
            [sys.executable, "-m", "obstack_load.cli", "db", "seed", "--rows", str(args.rows),
             "--days", str(args.days), "--db", dsn], cwd=REPO, check=True,
        )  # fmt: skip
        with psycopg.connect(dsn) as conn:
            rows, size = conn.execute(
                "SELECT COUNT(*), pg_size_pretty(pg_total_relation_size('metric_points') + "
                "(SELECT COALESCE(SUM(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits "
                "WHERE inhparent = 'metric_points'::regclass)) FROM metric_points"
            ).fetchone()
        print(f"metric_points: {rows:,} rows, {size} with indexes")
    finally:
        server.stop("immediate")


if __name__ == "__main__":
    main()

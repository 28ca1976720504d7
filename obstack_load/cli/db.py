"""``obstack-load db migrate|seed``: the results database's schema, and the reference
platform's own PostgreSQL filled with a history (there ``--db`` is the platform's database)."""

from __future__ import annotations

import argparse

from obstack_load.cli.common import group, positive, results_db, tenants_file
from obstack_load.core.config import ConfigError


def _db_migrate(args: argparse.Namespace) -> int:
    from obstack_load.results.schema import LATEST_VERSION
    from obstack_load.results.store import open_migrated

    store = open_migrated(args.results_db)
    print(f"{store.location}: schema at version {LATEST_VERSION}")
    return 0


def _db_seed(args: argparse.Namespace) -> int:
    from obstack_load.core.tenants import load_population
    from obstack_load.platform.database import SeedPlan, seed
    from obstack_load.results.store import redact

    if not args.db:
        raise ConfigError("--db", "", "give the platform database's postgresql:// DSN")
    population = load_population(args.tenants_file)
    where = redact(args.db)
    print(f"{where}: seeding {args.rows:,} metric points over {args.days} days "
          f"for {len(population.tenants)} tenants", flush=True)  # fmt: skip

    def progress(done: int, seconds: float) -> None:
        print(f"  {done:>12,} points  {done / seconds:>10,.0f} points/s", flush=True)

    try:
        written, seconds = seed(args.db, population, SeedPlan(args.rows, args.days), progress)
    except Exception as exc:  # psycopg's errors name the server, never the password
        raise ConfigError("--db", "", f"{where}: {' '.join(str(exc).split())}") from None
    print(f"{where}: {written:,} points in {seconds:.1f} s ({written / seconds:,.0f} points/s)")
    return 0


def register(commands) -> None:
    db_commands = group(
        commands, "db", "results database maintenance, and the platform's database seed",
        "The results database's schema, and the reference platform's own database.",
    )  # fmt: skip
    migrate = db_commands.add_parser(
        "migrate", parents=[results_db()], help="create or upgrade the results schema",
        description="Create or upgrade the results schema.",
    )  # fmt: skip
    migrate.set_defaults(func=_db_migrate)
    seed = db_commands.add_parser(
        "seed",
        parents=[tenants_file()],
        help="fill the reference platform's PostgreSQL database with a multi-tenant history",
        description="Create the platform's schema in a PostgreSQL database and COPY a realistic "
        "history into it: the tenant population (Zipf sizes), their users, dashboards, alerts, "
        "metric series, and --rows metric points over --days days.",
    )
    seed.add_argument("--db", metavar="DSN", help="the platform database's postgresql:// DSN")
    seed.add_argument(
        "--rows", type=positive(int), default=10_000_000, help="metric points (default 10,000,000)"
    )
    seed.add_argument("--days", type=positive(int), default=7, help="history length (default 7)")
    seed.set_defaults(func=_db_seed)

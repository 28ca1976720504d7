"""The ``obstack-load`` command: the reference platform and the tenant population.

Each subcommand has ``--help``. Load tests themselves run through ``locust --config``; this
command holds what Locust does not.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from obstack_load import __version__
from obstack_load.config import ConfigError


def _platform(args: argparse.Namespace) -> int:
    from obstack_load.platform.server import serve
    from obstack_load.platform.settings import PlatformSettings

    serve(
        PlatformSettings(
            host=args.host,
            port=args.port,
            tenants_file=args.tenants,
            token_ttl_seconds=args.token_ttl,
            refresh_ttl_seconds=args.refresh_ttl,
            max_body_bytes=args.max_body_bytes,
            ingest_rate_limit=args.ingest_rate_limit,
            retention_seconds=args.retention,
            max_log_records_per_tenant=args.max_log_records,
            max_traces_per_tenant=args.max_traces,
            max_series_per_tenant=args.max_series,
        )
    )
    return 0


def _tenants(args: argparse.Namespace) -> int:
    from obstack_load.tenants import load_population

    population = load_population(args.tenants)
    if args.json:
        print(
            json.dumps(
                {"seed": population.seed, "tenants": [t.secret_dict() for t in population.tenants]},
                indent=2,
            )
        )
        return 0
    print(f"{len(population.tenants)} tenants from {population.source} (seed {population.seed})")
    print(f"{'tenant':<14} {'weight':>7} {'users':>6} {'services':>9} {'hosts':>6}")
    for tenant in population.tenants:
        print(
            f"{tenant.tenant_id:<14} {tenant.weight:>7.3f} {len(tenant.accounts):>6} "
            f"{len(tenant.services):>9} {len(tenant.hosts):>6}"
        )
    print("credentials are hidden; use --json to print them for a test environment")
    return 0


def positive(kind: type):
    def parse(text: str):
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="obstack-load", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"obstack-load {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    platform = commands.add_parser(
        "platform",
        help="run the reference Obstack platform",
        description="Run the reference Obstack platform (the target of the bundled tests).",
    )
    platform.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    platform.add_argument(
        "--port", type=int, default=8080, help="port; 0 takes a free one (default 8080)"
    )
    platform.add_argument(
        "--tenants", metavar="FILE", help="tenants file (default config/tenants.yaml)"
    )
    platform.add_argument("--token-ttl", type=positive(float), default=900.0, metavar="SECONDS",
                          help="access token lifetime (default 900)")  # fmt: skip
    platform.add_argument("--refresh-ttl", type=positive(float), default=86400.0, metavar="SECONDS",
                          help="refresh token lifetime (default 86400)")  # fmt: skip
    platform.add_argument("--max-body-bytes", type=positive(int), default=4 * 1024 * 1024,
                          help="OTLP body limit after decompression; larger gets 413 (default 4 MiB)")  # fmt: skip
    platform.add_argument("--ingest-rate-limit", type=positive(float), default=0.0, metavar="ITEMS_PER_S",
                          help="per-tenant, per-signal items/s; over it gets 429 (default 0 = unlimited)")  # fmt: skip
    platform.add_argument("--retention", type=positive(float), default=3600.0, metavar="SECONDS",
                          help="drop telemetry older than this (default 3600)")  # fmt: skip
    platform.add_argument("--max-log-records", type=positive(int), default=50_000,
                          help="log records kept per tenant (default 50000)")  # fmt: skip
    platform.add_argument("--max-traces", type=positive(int), default=5_000,
                          help="traces kept per tenant (default 5000)")  # fmt: skip
    platform.add_argument("--max-series", type=positive(int), default=10_000,
                          help="metric series per tenant; new series past it are rejected (default 10000)")  # fmt: skip
    platform.set_defaults(func=_platform)

    tenants = commands.add_parser(
        "tenants",
        help="print the tenant population",
        description="Print the tenant population; --json includes credentials, for test environments.",
    )
    tenants.add_argument(
        "--tenants", metavar="FILE", help="tenants file (default config/tenants.yaml)"
    )
    tenants.add_argument("--json", action="store_true", help="print JSON, credentials included")
    tenants.set_defaults(func=_tenants)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"obstack-load: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

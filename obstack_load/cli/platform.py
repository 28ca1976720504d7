"""``obstack-load platform`` and ``obstack-load tenants``: the reference platform and the
tenant population it and the load share."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os

from obstack_load.cli.common import json_output, positive, tenants_file
from obstack_load.core.vocabulary import add_option

OLD_NAMES = {"tenants-file": ("--tenants",)}  # hidden aliases for one release


DB_ENV = "OBSTACK_PLATFORM_DB"


def _platform(args: argparse.Namespace) -> int:
    # The platform alone: nothing of the Locust side is imported (no gevent monkey-patching).
    from obstack_load.platform.server import serve
    from obstack_load.platform.settings import PlatformSettings

    serve(PlatformSettings(**{f.name: getattr(args, f.name) for f in _platform_fields()}))
    return 0


def _platform_fields() -> list[dataclasses.Field]:
    from obstack_load.platform.settings import PlatformSettings

    return [f for f in dataclasses.fields(PlatformSettings) if f.metadata.get("option")]


def add_platform_options(parser: argparse.ArgumentParser) -> None:
    """One option per ``PlatformSettings`` field that names one: its default, type and help."""
    for spec in _platform_fields():
        kind = type(spec.default)
        text = spec.metadata["help"]
        if spec.default not in (None, ""):  # no "(default )" for an empty default
            text += (
                f" (default {spec.default:g})" if kind is float else f" (default {spec.default})"
            )
        if kind is bool:  # a switch
            parser.add_argument(
                f"--{spec.metadata['option']}", dest=spec.name, action="store_true",
                default=spec.default, help=spec.metadata["help"],
            )  # fmt: skip
            continue
        default = spec.default
        if spec.name == "db":  # a DSN with a password is better kept off the command line (ps)
            default = os.environ.get(DB_ENV, spec.default)
            text += f" (env {DB_ENV})"
        add_option(
            parser,
            f"--{spec.metadata['option']}",
            *OLD_NAMES.get(spec.metadata["option"], ()),
            dest=spec.name,
            default=default,
            type=positive(kind) if kind in (int, float) else str,
            metavar=spec.metadata["metavar"] or ("N" if kind is int else None),
            help=text,
        )


def _tenants(args: argparse.Namespace) -> int:
    from obstack_load.core.tenants import load_population

    population = load_population(args.tenants_file)
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


def register(commands) -> None:
    platform = commands.add_parser(
        "platform",
        help="run the reference Obstack platform",
        description="Run the reference Obstack platform (the target of the bundled tests).",
    )
    add_platform_options(platform)
    platform.set_defaults(func=_platform)

    tenants = commands.add_parser(
        "tenants",
        parents=[tenants_file(), json_output("print JSON, credentials included")],
        help="print the tenant population",
        description="Print the tenant population; --json includes credentials, for test environments.",
    )
    tenants.set_defaults(func=_tenants)

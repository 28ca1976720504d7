"""What every ``obstack-load`` command shares: one spelling per concept, declared once.

The vocabulary, on every command that has the concept:

=====================  ==========================================================
``--results-db``       the Test Results Database (``--db`` only ever means the
                       reference platform's own database: ``platform``, ``db seed``)
``--tenants-file``     the tenant population file
``--run-label``        a run's label (a suite run's, for JUnit imports)
``--capacity-slo``     an SLO a capacity search must meet
``--json``             print JSON instead of text
``--html``             the HTML file a command writes (as Locust's own ``--html``)
=====================  ==========================================================

Old spellings stay for one release as hidden aliases: each still works and prints a one-line
notice with the new name (``vocabulary.add_option``).
"""

from __future__ import annotations

import argparse
import os
import sys

from obstack_load.core.errors import ObstackLoadError
from obstack_load.core.vocabulary import add_option

RESULTS_DB_HELP = (
    "the results database: a postgresql:// DSN or an SQLite path "
    "(default $OBSTACK_RESULTS_DB, else results/obstack-results.db)"
)


def results_db(help: str = RESULTS_DB_HELP) -> argparse.ArgumentParser:
    """A parent parser with ``--results-db`` (old spelling ``--db``)."""
    parent = argparse.ArgumentParser(add_help=False)
    add_option(
        parent, "--results-db", "--db", dest="results_db",
        default=os.environ.get("OBSTACK_RESULTS_DB"), metavar="DSN|PATH", help=help,
    )  # fmt: skip
    return parent


def json_output(help: str = "print JSON") -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--json", action="store_true", help=help)
    return parent


def tenants_file() -> argparse.ArgumentParser:
    """A parent parser with ``--tenants-file`` (old spelling ``--tenants``)."""
    parent = argparse.ArgumentParser(add_help=False)
    add_option(parent, "--tenants-file", "--tenants", dest="tenants_file", metavar="FILE",
               help="the tenant population file (default config/tenants.yaml)")  # fmt: skip
    return parent


def run_label(help: str) -> argparse.ArgumentParser:
    """A parent parser with ``--run-label`` (old spelling ``--label``)."""
    parent = argparse.ArgumentParser(add_help=False)
    add_option(parent, "--run-label", "--label", dest="run_label", metavar="LABEL", help=help)
    return parent


def reading(args: argparse.Namespace):
    from obstack_load.results.store import open_for_reading

    return open_for_reading(args.results_db)


def positive(kind: type):
    def parse(text: str):
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
        return value

    return parse


def module_command(commands, name: str, module, help: str) -> argparse.ArgumentParser:
    """A command that a module of its own holds (``add_arguments`` and ``run``, which runs
    Locust with ``args.after_dashes``), described by its docstring's second paragraph."""
    parser = commands.add_parser(
        name, help=help, description=module.__doc__.split("\n\n")[1].replace("\n", " ")
    )
    module.add_arguments(parser)
    # what follows -- goes to the Locust run the command starts (main splits it off)
    parser.epilog = "After --, more Locust options: ... -- --html report.html"
    parser.set_defaults(func=module.run, after_dashes=[])
    return parser


def group(commands, name: str, help: str, description: str):
    """A command made of subcommands (``obstack-load db migrate``); returns its subparsers."""
    parser = commands.add_parser(name, help=help, description=description)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="SUBCOMMAND")


def fail(exc: ObstackLoadError) -> int:
    print(f"obstack-load: {exc}", file=sys.stderr)
    return 2

"""The obstack-load command: the reference platform, the tenants, the results database, and
the analyses, capacity searches and chaos experiments that Locust itself does not hold.

One module per command group, each with a ``register(commands)``; what they share (the
vocabulary, the parent parsers) is ``common.py``. Load tests themselves run through
``locust --config``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from obstack_load import __version__
from obstack_load.cli import analysis, chaos, common, db, platform, profiles, results, runs
from obstack_load.core.errors import ObstackLoadError

DESCRIPTION = (
    "obstack-load: the reference Obstack platform, the tenants, the results database, and the "
    "analyses, capacity searches and chaos experiments around Locust runs."
)


def _capacity(commands) -> None:
    from obstack_load.capacity import command as capacity_command

    common.module_command(commands, "capacity", capacity_command,
                          "find the highest load that meets the SLOs, the knee, and what saturated first")  # fmt: skip


# in the order `obstack-load --help` lists them
GROUPS = (platform.register, runs.register, analysis.register, chaos.register, _capacity,
          profiles.register, db.register, results.register)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="obstack-load", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"obstack-load {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in GROUPS:
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Split at "--" before argparse sees it: it cannot take a positional argument followed by
    # a variable number of others that start with a dash (``capacity ... -- --html x``).
    argv = list(sys.argv[1:] if argv is None else argv)
    passed_on: list[str] = []
    if "--" in argv:
        argv, passed_on = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    parser = build_parser()
    args = parser.parse_args(argv)
    if passed_on:
        if not hasattr(args, "after_dashes"):
            parser.error(f"unrecognized arguments: -- {' '.join(passed_on)}")
        args.after_dashes = passed_on
    try:
        code = args.func(args)
        sys.stdout.flush()  # here, so that a reader that left is caught below
        return code
    except ObstackLoadError as exc:
        print(f"obstack-load: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `runs show latest | head`: the reader left; stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command its pipe stopped

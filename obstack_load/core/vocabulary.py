"""One name per concept on every command: an option under its name, and its old spellings as
hidden aliases for one release, each printing a one-line notice with the new name.

Plain argparse, no Locust: ``obstack_load.cli`` and the commands that capacity and chaos hold
use it alike.
"""

from __future__ import annotations

import argparse
import sys


class RenamedOption(argparse.Action):
    """An old spelling: stores into the new option's place and says the new name, once."""

    def __init__(self, option_strings, dest, new_name: str = "", **kwargs) -> None:
        self.new_name = new_name
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(
            f"obstack-load: {option_string} is now {self.new_name}; the old name goes in the "
            "next release",
            file=sys.stderr,
        )
        if self.nargs == 0:
            setattr(namespace, self.dest, self.const)
        elif isinstance(getattr(namespace, self.dest, None), list) and self.default == []:
            getattr(namespace, self.dest).append(values)
        else:
            setattr(namespace, self.dest, values)


def add_option(parser, name: str, *old_names: str, **kwargs) -> argparse.Action:
    """``name`` with ``kwargs``, and each of ``old_names`` as a hidden alias of it."""
    action = parser.add_argument(name, **kwargs)
    for old in old_names:
        alias = {"dest": action.dest, "new_name": name, "metavar": action.metavar}
        if kwargs.get("action") == "append":
            alias["default"] = []
        parser.add_argument(old, action=RenamedOption, **alias)
    return action


# The options a command that starts a Locust run hands on to it under the same names
# (``obstack-load capacity``, ``obstack-load chaos run``): declared once, so both spell them alike.
RUN_OPTIONS = (
    ("--results-db", (), "the results database (Locust's --results-db)"),
    ("--run-label", ("--label",), "the run's label in the results database (Locust's --run-label)"),
    ("--tenants-file", ("--tenants",), "the tenant population file (Locust's --tenants-file)"),
)


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """``RUN_OPTIONS`` on a command that starts a Locust run."""
    for name, old_names, help in RUN_OPTIONS:
        add_option(parser, name, *old_names, metavar=name.removeprefix("--").split("-")[-1].upper(),
                   help=help)  # fmt: skip


def run_options(args: argparse.Namespace) -> list[str]:
    """The Locust arguments for the ``RUN_OPTIONS`` given."""
    command: list[str] = []
    for name, _, _ in RUN_OPTIONS:
        value = getattr(args, name.removeprefix("--").replace("-", "_"), None)
        if value:
            command += [name, value]
    return command

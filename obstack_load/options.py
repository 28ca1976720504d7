"""Custom Locust options shared by every locustfile, with environment-variable fallbacks.

They show in the web UI's start form and can be written in ``--config`` files by their long name
(``tenants-file = config/tenants.yaml``). Read them in ``test_start`` or later: a worker only learns
the master's values with its first spawn message.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from locust import events

from obstack_load.config import ConfigError


def env_default(name: str, default: str | None) -> str | None:
    return os.environ.get(name, default)


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:
    parser.add_argument(
        "--tenants-file",
        default=env_default("OBSTACK_TENANTS_FILE", None),
        help="tenant population file (default config/tenants.yaml; env OBSTACK_TENANTS_FILE)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=int(env_default("OBSTACK_SEED", "1") or 1),
        help="seed for tenant choice and generated data (env OBSTACK_SEED)",
    )
    parser.add_argument(
        "--summary-json",
        default=env_default("OBSTACK_SUMMARY_JSON", None),
        help="write a machine-readable end-of-run summary to this path (env OBSTACK_SUMMARY_JSON)",
    )


def option_source(options: Any) -> str:
    """Where option values came from, for error messages: the ``--config`` file, if any, and
    the command line (Locust does not say which of the two set a given value)."""
    config = getattr(options, "config", None)
    files = [config] if isinstance(config, str) else [str(f) for f in config or []]
    return " or ".join([*files, "the command line"])


def preflight(check: Callable[[Any], None]) -> Callable[[Any], None]:
    """Run ``check(environment)`` at start on the master or standalone process, before any user.

    A ``ConfigError`` it raises becomes one line on stderr naming the file or option, and exit
    code 2. Workers skip checks: they get the master's options later, and the master has checked
    them. Every plugin's start-up validation goes through here.
    """

    @events.init.add_listener
    def run(environment, **kwargs) -> None:
        from locust.runners import WorkerRunner

        if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
            return
        try:
            check(environment)
        except ConfigError as exc:
            print(f"obstack-load: {exc}", file=sys.stderr, flush=True)
            sys.exit(2)

    return check


@preflight
def _check_tenants(environment) -> None:
    """A bad tenants file stops the run before load."""
    from obstack_load.users.tenancy import population

    population(environment.parsed_options.tenants_file)

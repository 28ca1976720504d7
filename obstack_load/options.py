"""Custom Locust options shared by every locustfile, and how every suite option is declared.

They show in the web UI's start form and can be written in ``--config`` files by their long name
(``tenants-file = config/tenants.yaml``). Each also reads an ``OBSTACK_*`` environment variable
through Locust's own parser (``env_var=``), so the precedence is Locust's: the command line, then
the environment, then ``--config`` files, then the default. Read them in ``test_start`` or later:
a worker only learns the master's values with its first spawn message.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from locust import events

from obstack_load.config import ConfigError


def env_name(flag: str) -> str:
    """``--results-db`` reads ``OBSTACK_RESULTS_DB``."""
    return "OBSTACK_" + flag.lstrip("-").upper().replace("-", "_")


def add_option(parser, flag: str, help: str, env: str | None = None, **kwargs: Any) -> None:
    """Add a suite option with its environment variable (``env_name``), read by Locust's parser.

    A repeatable option (``action="append"``) takes a JSON list from its variable for several
    values: ``OBSTACK_THRESHOLDS='["p(95)<500", "rate<0.01"]'``.
    """
    env = env or env_name(flag)
    parser.add_argument(flag, env_var=env, help=f"{help} (env {env})", **kwargs)


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:
    add_option(parser, "--tenants-file", "tenant population file (default config/tenants.yaml)")
    add_option(parser, "--seed", "seed for tenant choice and generated data", type=int, default=1)
    add_option(parser, "--summary-json", "write a machine-readable end-of-run summary to this path")


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
    from obstack_load.tenants import population

    population(environment.parsed_options.tenants_file)

"""Custom Locust options shared by every locustfile, with environment-variable fallbacks.

They show in the web UI's start form and can be written in ``--config`` files by their long name
(``tenants-file = config/tenants.yaml``). Read them in ``test_start`` or later: a worker only learns
the master's values with its first spawn message.
"""

from __future__ import annotations

import os
import sys

from locust import events


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


@events.init.add_listener
def _check_before_load(environment, **kwargs) -> None:
    """Refuse a bad tenants file with one line naming file and key, before any user starts.

    Workers skip this: they get the master's options later, and the master has checked them.
    """
    from locust.runners import WorkerRunner

    from obstack_load.config import ConfigError
    from obstack_load.users.tenancy import population

    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
        return
    try:
        population(environment.parsed_options.tenants_file)
    except ConfigError as exc:
        print(f"obstack-load: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)

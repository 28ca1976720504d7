"""Custom Locust options shared by every locustfile, and how every suite option is declared.

They show in the web UI's start form and can be written in ``--config`` files by their long name
(``tenants-file = config/tenants.yaml``). Each also reads an ``OBSTACK_*`` environment variable
through Locust's own parser (``env_var=``), so the precedence is Locust's: the command line, then
the environment, then ``--config`` files, then the default. Read them in ``test_start`` or later:
a worker only learns the master's values with its first spawn message.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from locust import events

from obstack_load.core.config import ConfigError, as_number


def env_name(flag: str) -> str:
    """``--results-db`` reads ``OBSTACK_RESULTS_DB``."""
    return "OBSTACK_" + flag.lstrip("-").upper().replace("-", "_")


# Where each option shows in `locust --help` (`obstack-load options`): its group, by the
# option's prefix. An option no prefix places is a mistake the option test catches.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("obstack-load: the run", ("--tenants-file", "--seed", "--summary-json")),
    ("obstack-load: OTLP ingestion", ("--otlp-",)),
    ("obstack-load: API sessions and live tail", ("--api-", "--live-")),
    ("obstack-load: results database", ("--results-", "--run-", "--generator-bound-cpu")),
    ("obstack-load: thresholds (SLO gates)", ("--threshold",)),
    ("obstack-load: arrival rate and load shapes",
     ("--arrival-", "--load-shape", "--stages", "--step-", "--spike-")),
    ("obstack-load: capacity search", ("--capacity-",)),
    ("obstack-load: chaos experiments and health monitor", ("--chaos-", "--monitor")),
    ("obstack-load: database users", ("--db-",)),
    ("obstack-load: target figures (Prometheus or the target's /metrics)",
     ("--prometheus", "--target-")),
    ("obstack-load: the generator's own /metrics (a saturation signal for autoscalers)",
     ("--metrics-",)),
    ("obstack-load: workers (distributed runs)", ("--worker-",)),
)  # fmt: skip

# The options an ad-hoc user changes in the web UI's start form; every other option is set on
# the command line, in --config or in its OBSTACK_* variable (include_in_web_ui=False).
IN_THE_FORM = frozenset({
    "--tenants-file", "--seed", "--summary-json", "--run-label", "--run-tag",
    "--threshold", "--thresholds-file", "--otlp-total-rate", "--otlp-users-per-signal",
    "--otlp-encoding", "--otlp-batch-size", "--otlp-auth", "--otlp-backfill", "--api-mix",
    "--load-shape", "--arrival-rate", "--monitor", "--chaos-experiment", "--capacity-search",
    "--capacity-slo",
    "--results-interval", "--results-buffer-rows", "--results-wait",
})  # fmt: skip


def group_of(flag: str) -> str:
    for title, prefixes in GROUPS:
        if flag.startswith(prefixes):
            return title
    raise ValueError(f"{flag}: no option group in obstack_load.run.options.GROUPS takes it")


def add_option(parser, flag: str, help: str, env: str | None = None, **kwargs: Any):
    """Add a suite option in its group, with its environment variable (``env_name``), read by
    Locust's parser, and shown in the web UI's form only when it is one of ``IN_THE_FORM``.

    A repeatable option (``action="append"``) takes a JSON list from its variable for several
    values: ``OBSTACK_THRESHOLDS='["p(95)<500", "rate<0.01"]'``.
    """
    env = env or env_name(flag)
    title = group_of(flag)
    group = next((g for g in parser._action_groups if g.title == title), None)
    if group is None:
        group = parser.add_argument_group(title)
    # An argument group's add_argument is argparse's, not LocustArgumentParser's: it knows
    # nothing of the web UI's keywords (locust#2560), so they are set on the action here.
    web = {key: kwargs.pop(key, False) for key in ("is_secret", "is_required", "is_multiple")}
    web["include_in_web_ui"] = kwargs.pop("include_in_web_ui", flag in IN_THE_FORM)
    action = group.add_argument(flag, env_var=env, help=f"{help} (env {env})", **kwargs)
    for key, value in web.items():
        setattr(action, key, value)
    return action


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
    them. Checks that only read the options are ``validator``s instead, so that the web UI's form
    is checked by them too; this is for start-up work that may also fail (opening a database).
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


# Every validator of every loaded plugin: checks that read the options and nothing else.
VALIDATORS: list[Callable[[Any], None]] = []


def validator(check: Callable[[Any], None]) -> Callable[[Any], None]:
    """Check the options with ``check(options)`` before any load: at start (as ``preflight``
    does), and again on every start from the web UI, against the values typed in its form; a
    ``ConfigError`` there refuses the start with the same one line, before any user starts."""
    VALIDATORS.append(check)
    preflight(lambda environment: check(environment.parsed_options))
    return check


def validate(options: Any) -> None:
    for check in VALIDATORS:
        check(options)


def form_options(options: Any, form) -> argparse.Namespace:
    """The options as Locust's ``/swarm`` will set them from the web UI's ``form``: each value
    converted to the type of the option's current value, as Locust's own ``swarm()`` does."""
    values = dict(vars(options))
    for key in form:
        text = form.get(key)
        if key == "user_count":
            key, current = "num_users", 0
        elif key == "spawn_rate":
            current = 0.0
        elif key in values:
            current = values[key]
        else:
            continue
        if isinstance(current, bool):
            values[key] = text == "true"
        elif current is None or isinstance(current, str):
            values[key] = text
        elif isinstance(current, list):
            values[key] = text.split(",") if "," in text else form.getlist(key)
        else:
            values[key] = as_number(text, type(current), f"--{key.replace('_', '-')}", "")
    return argparse.Namespace(**values)


@events.init.add_listener
def _check_web_ui_starts(environment, **kwargs: Any) -> None:
    """Refuse a start from the web UI whose form holds a bad value, before Locust starts users."""
    web_ui = environment.web_ui
    if web_ui is None:
        return
    from flask import jsonify, request

    @web_ui.app.before_request
    def check_swarm():
        if request.method != "POST" or not request.path.rstrip("/").endswith("/swarm"):
            return None
        try:
            validate(form_options(environment.parsed_options, request.form))
        except ConfigError as exc:
            message = f"obstack-load: {exc}"
            print(message, file=sys.stderr, flush=True)
            return jsonify({"success": False, "message": message, "host": environment.host})
        return None


@validator
def _check_tenants(options) -> None:
    """A bad tenants file stops the run before load."""
    from obstack_load.core.tenants import population

    population(options.tenants_file)


@validator
def _check_target(options) -> None:
    """A host Locust cannot send to, and a negative user count or spawn rate."""
    host = getattr(options, "host", None)
    if host:
        parts = urlsplit(host)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                "--host",
                "",
                f"{host!r} is not an http:// or https:// URL such as http://127.0.0.1:8080",
            )
    users = getattr(options, "num_users", None)
    if users is not None and users < 0:
        raise ConfigError("--users", "", f"must be >= 0, got {users}")
    rate = getattr(options, "spawn_rate", None)
    if rate is not None and not rate > 0:
        raise ConfigError("--spawn-rate", "", f"must be > 0, got {rate}")


@validator
def _check_summary_path(options) -> None:
    """A summary that could not be written at the end is refused at the start."""
    path = getattr(options, "summary_json", None)
    if not path:
        return
    target = Path(path)
    existed = target.exists()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a", encoding="utf-8"):  # the real test: root may write anywhere else
            pass
    except OSError as exc:
        raise ConfigError("--summary-json", "", f"cannot write {path} ({exc.strerror})") from None
    if not existed:
        target.unlink()

"""Where a run gets its target's figures (``figures/target.py``): its options (``--prometheus``,
``--prometheus-figures``, ``--prometheus-token-env``), their checks before any load, and
``source_of(environment)``, the one source every plugin reads through, kept on the run."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from locust import events

from obstack_load.core.config import ConfigError
from obstack_load.core.vocabulary import RenamedOption
from obstack_load.figures.prometheus import (
    REFERENCE_FIGURES,
    TOKEN_ENV,
    Prometheus,
    PrometheusFigures,
    load_figures_file,
)
from obstack_load.figures.target import MetricsPage, Source, target_of
from obstack_load.run.context import run_of
from obstack_load.run.options import add_option, preflight, validator


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    add_option(parser, "--prometheus", "read the target's figures (CPU, memory, DB pool, write "
               "queue, throttling) from this Prometheus's HTTP API instead of the target's own "
               "/metrics, e.g. http://prometheus:9090", default="")  # fmt: skip
    add_option(parser, "--prometheus-figures", "the figures file: each figure's PromQL query "
               f"(default {REFERENCE_FIGURES.relative_to(REFERENCE_FIGURES.parents[2])}; "
               "config/figures/kubernetes.yaml for a cluster)", default="")  # fmt: skip
    add_option(parser, "--prometheus-token-env", "the environment variable holding a bearer "
               "token for --prometheus (its value is never logged)", default=TOKEN_ENV)  # fmt: skip
    add_option(parser, "--target-metrics-key", "the API key the target's own /metrics takes "
               "(the fallback without --prometheus); default: the population's first tenant's")  # fmt: skip
    parser.add_argument("--capacity-target-key", action=RenamedOption, dest="target_metrics_key",
                        new_name="--target-metrics-key", include_in_web_ui=False)  # fmt: skip


def figures_file_of(options: Any):
    return load_figures_file(getattr(options, "prometheus_figures", "") or REFERENCE_FIGURES)


@validator
def _check(options: Any) -> None:
    url = getattr(options, "prometheus", "") or ""
    if not url:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError("--prometheus", "", f"{url!r}: an http:// or https:// URL is needed")
    figures_file_of(options)


@preflight
def _reachable(environment) -> None:
    """Prometheus answers and takes every query, before any load (not on a web UI start: the
    form does not set these options)."""
    source = open_source(environment)
    if isinstance(source, PrometheusFigures):
        source.check()


def open_source(environment) -> Source | None:
    options = environment.parsed_options
    url = getattr(options, "prometheus", "") if options is not None else ""
    if url:
        token = os.environ.get(options.prometheus_token_env or TOKEN_ENV) or None
        return PrometheusFigures(Prometheus(url, token), figures_file_of(options))
    found = target_of(environment)
    if found is None:
        return None
    key = getattr(options, "target_metrics_key", None) or found[1]
    return MetricsPage(found[0], key)


class TargetFigures:
    """A run's source of target figures, opened once when first asked for."""

    def __init__(self) -> None:
        self.source: Source | None = None
        self.opened = False


def source_of(environment) -> Source | None:
    """The run's source of target figures: its Prometheus, else the target's /metrics, else
    None (no --host)."""
    figures = run_of(environment).slot(TargetFigures)
    if not figures.opened:
        figures.source, figures.opened = open_source(environment), True
    return figures.source

"""Reading the target's Prometheus ``/metrics`` during a run: for the database figures (its
pool) and the capacity search (its CPU, pool and throttling). One place that knows the URL, the
key it takes and the parsing; plain data out, no Locust."""

from __future__ import annotations

import functools
import logging
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from obstack_load.core.tenants import population

logger = logging.getLogger("obstack_load.figures")


def scrape(host: str, api_key: str | None, timeout: float) -> list[Sample] | None:
    """Every sample of the target's /metrics; None when it does not answer in time, or answers
    with something other than Prometheus text (a foreign target's catch-all page, say): its
    figures are then "n/a", said once, and never a finding the measurements did not make."""
    url = f"{host.rstrip('/')}/metrics"
    try:
        headers = {"X-API-Key": api_key} if api_key else {}
        response = requests.get(url, headers=headers, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as exc:
        _say_once(url, f"no answer ({type(exc).__name__})")
        return None
    try:
        samples = [s for f in text_string_to_metric_families(response.text) for s in f.samples]
    except Exception as exc:  # the parser raises ValueError, TypeError, IndexError...
        _say_once(url, f"not Prometheus text ({' '.join(str(exc).split())[:120]})")
        return None
    if not samples:
        _say_once(url, "no samples")
    return samples


@functools.cache
def _say_once(url: str, why: str) -> None:
    """One line per target and reason, however often it is read (the monitor reads every s)."""
    logger.warning("obstack-load: the target's figures are n/a: %s: %s", url, why)


def target_of(environment: Any) -> tuple[str, str] | None:
    """The run's --host and a key its /metrics takes (the population's first tenant's)."""
    if not environment.host:
        return None
    options = environment.parsed_options
    tenants = population(getattr(options, "tenants_file", None) if options else None)
    return environment.host, tenants.tenants[0].api_key

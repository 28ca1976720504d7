"""Reading the target's Prometheus ``/metrics`` during a run: for the database figures (its
pool) and the capacity search (its CPU, pool and throttling). One place that knows the URL, the
key it takes and the parsing; plain data out, no Locust."""

from __future__ import annotations

from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from obstack_load.core.tenants import population


def scrape(host: str, api_key: str | None, timeout: float) -> list[Sample] | None:
    """Every sample of the target's /metrics, or None when it does not answer in time."""
    try:
        headers = {"X-API-Key": api_key} if api_key else {}
        response = requests.get(f"{host.rstrip('/')}/metrics", headers=headers, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException:
        return None
    return [s for family in text_string_to_metric_families(response.text) for s in family.samples]


def target_of(environment: Any) -> tuple[str, str] | None:
    """The run's --host and a key its /metrics takes (the population's first tenant's)."""
    if not environment.host:
        return None
    options = environment.parsed_options
    tenants = population(getattr(options, "tenants_file", None) if options else None)
    return environment.host, tenants.tenants[0].api_key

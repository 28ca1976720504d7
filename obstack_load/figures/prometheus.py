"""The user's Prometheus as the source of the target's figures: a figures file maps each figure
(``figures/target.py``'s ``FIGURES``) to a PromQL query, and each is read by an instant query
on Prometheus's HTTP API (``GET /api/v1/query``). The API is a GET and a small JSON answer, so
it is read with ``requests`` directly: the Python clients for it pull in pandas and matplotlib.

A figures file::

    assumes: >-
      what the queries assume of the deployment: job names, labels, exporters
    figures:
      cpu_seconds: sum(process_cpu_seconds_total{job="obstack-platform"})
      memory_bytes: sum(process_resident_memory_bytes{job="obstack-platform"})

A figure left out of the file is "n/a"; a query that returns nothing is "n/a" and says so once.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from obstack_load.core.config import REPO_ROOT, ConfigError
from obstack_load.figures.target import FIGURES, Reading, say_once

REFERENCE_FIGURES = REPO_ROOT / "config" / "figures" / "reference-platform.yaml"
TOKEN_ENV = "OBSTACK_PROMETHEUS_TOKEN"


class PrometheusError(Exception):
    """Prometheus did not answer a query, or refused it (its own words)."""


@dataclass(frozen=True)
class FiguresFile:
    path: Path
    queries: dict[str, str]
    assumes: str


def load_figures_file(path: str | Path) -> FiguresFile:
    """The figures file at ``path``, or a ``ConfigError`` naming the file and the key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(path, "", f"cannot be read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, "", f"is not YAML ({' '.join(str(exc).split())[:120]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("figures"), dict):
        raise ConfigError(path, "figures", "a mapping of figure name to PromQL query is needed")
    queries: dict[str, str] = {}
    for name, query in data["figures"].items():
        if name not in FIGURES:
            raise ConfigError(path, f"figures.{name}", "not a figure the suite reads; one of "
                              + ", ".join(FIGURES))  # fmt: skip
        if not isinstance(query, str) or not query.strip():
            raise ConfigError(path, f"figures.{name}", "a PromQL query (a string) is needed")
        queries[name] = " ".join(query.split())
    return FiguresFile(path, queries, str(data.get("assumes") or "").strip())


class Prometheus:
    """Instant queries against one Prometheus (or anything with its HTTP API: Thanos, Mimir,
    VictoriaMetrics), with an optional bearer token."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout

    def query(self, promql: str) -> float | None:
        """The query's value now: a scalar, or an instant vector's values summed; None when
        the vector is empty (no such series)."""
        try:
            response = self.session.get(
                f"{self.url}/api/v1/query", params={"query": promql}, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise PrometheusError(f"no answer ({type(exc).__name__})") from None
        try:
            body = response.json()
        except ValueError:
            raise PrometheusError(f"HTTP {response.status_code}, not Prometheus's API") from None
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else None
            raise PrometheusError(f"HTTP {response.status_code}: {error or 'not its API'}")
        data = body.get("data") or {}
        if data.get("resultType") == "scalar":
            return _number(data["result"][1])
        if data.get("resultType") != "vector":
            raise PrometheusError(f"a {data.get('resultType')} answer; an instant vector is needed")
        values = [_number(item["value"][1]) for item in data.get("result", [])]
        values = [v for v in values if not math.isnan(v)]
        return sum(values) if values else None


def _number(raw: str) -> float:
    return float(raw)  # Prometheus sends "NaN", "+Inf" as strings too; float() reads them


class PrometheusFigures:
    """The figures a figures file names, each read by its query."""

    def __init__(self, prometheus: Prometheus, figures: FiguresFile) -> None:
        self.prometheus, self.figures = prometheus, figures
        self.description = f"Prometheus {prometheus.url} ({figures.path.name})"

    def read(self, names: tuple[str, ...] | None = None) -> Reading:
        reading = Reading(time.monotonic())
        for name, query in self.figures.queries.items():
            if names is not None and name not in names:
                continue
            try:
                value = self.prometheus.query(query)
            except PrometheusError as exc:
                say_once(f"{self.description} {name}", str(exc))
                continue
            if value is None:
                say_once(f"{self.description} {name}", f"no series for {query}")
            else:
                reading.values[name] = value
        reading.at = (reading.at + time.monotonic()) / 2  # the queries take a moment each
        return reading

    def check(self) -> None:
        """Before any load: Prometheus answers, and takes every query of the figures file; a
        ``ConfigError`` naming the option or the file and key when not. A query that returns
        nothing yet is fine (its series may come with the load)."""
        try:
            self.prometheus.query("1")
        except PrometheusError as exc:
            raise ConfigError("--prometheus", "", f"{self.prometheus.url}: {exc}") from None
        for name, query in self.figures.queries.items():
            try:
                self.prometheus.query(query)
            except PrometheusError as exc:
                raise ConfigError(self.figures.path, f"figures.{name}", str(exc)) from None

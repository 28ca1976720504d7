"""Realistic OTLP metric batches from a catalogue of series with controlled cardinality and churn.

The catalogue has exactly ``cardinality`` series: gauges, cumulative and delta sums, and
explicit-bucket histograms, spread over the fleet's pods. Each batch carries the next ``count``
series of the catalogue, so every series reports in turn. Cumulative series keep their state
(start time, running totals), as a real SDK does.

Churn replaces ``churn_per_minute`` series each minute with new ones, the way pod restarts do:
the replaced series gets a new ``k8s.pod.uid`` and a new start time, so a receiver sees a new
series while the total stays at ``cardinality``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from obstack_load.core.tenants import Tenant
from obstack_load.telemetry.clock import Clock, TimestampSettings
from obstack_load.telemetry.fleet import SCOPE, Fleet, attributes

CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
HTTP_DIMENSIONS = (
    ("http.route", ("/api/orders", "/api/orders/{id}", "/api/cart", "/api/users/{id}",
                    "/api/search", "/api/catalog/products/{id}", "/api/checkout", "/healthz")),
    ("http.request.method", ("GET", "POST", "PUT", "DELETE")),
    ("http.response.status_code", (200, 201, 400, 404, 500, 503)),
)  # fmt: skip


@dataclass(frozen=True)
class MetricKind:
    name: str
    kind: str  # gauge | sum_cumulative | sum_delta | histogram
    unit: str
    dimensions: tuple[tuple[str, tuple], ...]


CATALOGUE = (
    MetricKind("system.cpu.utilization", "gauge", "1",
               (("cpu.logical_number", tuple(range(16))), ("cpu.mode", ("user", "system", "idle", "iowait")))),
    MetricKind("http.server.requests", "sum_cumulative", "{request}", HTTP_DIMENSIONS),
    MetricKind("messaging.client.consumed.messages", "sum_delta", "{message}",
               (("messaging.destination.name", ("orders", "payments", "emails", "audit", "clicks")),
                ("messaging.system", ("kafka",)))),
    MetricKind("http.server.request.duration", "histogram", "s", HTTP_DIMENSIONS),
    MetricKind("jvm.memory.used", "gauge", "By",
               (("jvm.memory.type", ("heap", "non_heap")), ("jvm.memory.pool.name", ("eden", "survivor", "old", "metaspace")))),
)  # fmt: skip


@dataclass
class SeriesState:
    """One series as its current generation (churn replaces it) knows it."""

    generation: int
    start_ns: int
    pod_uid: str
    total: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BOUNDS) + 1))
    histogram_sum: float = 0.0


class MetricsGenerator:
    def __init__(
        self,
        fleet: Fleet,
        rng: random.Random,
        clock: Clock,
        cardinality: int = 1000,
        churn_per_minute: float = 0.0,
    ) -> None:
        self.fleet = fleet
        self.rng = rng
        self.clock = clock
        self.cardinality = cardinality
        self.churn_per_minute = churn_per_minute
        self.started = time.time()
        self.cursor = 0
        self.state: dict[int, SeriesState] = {}

    def series_labels(self, series: int) -> tuple[int, MetricKind, dict[str, object]]:
        """Which pod and metric a series belongs to, and its point attributes (without churn)."""
        pods = len(self.fleet.instances)
        pod = series % pods
        kind = CATALOGUE[(series // pods) % len(CATALOGUE)]
        combo = series // (pods * len(CATALOGUE))
        labels: dict[str, object] = {}
        for key, values in kind.dimensions:
            labels[key] = values[combo % len(values)]
            combo //= len(values)
        if combo:  # beyond the natural label space: more shards of the same metric
            labels["shard"] = combo
        return pod, kind, labels

    def generation(self, series: int, now: float) -> int:
        """How many times churn has replaced this series so far."""
        churned = int(self.churn_per_minute * (now - self.started) / 60)
        laps, partial = divmod(churned, self.cardinality)
        return laps + (1 if series < partial else 0)

    def batch(
        self, count: int, extra: Mapping[str, object] | None = None
    ) -> ExportMetricsServiceRequest:
        rng = self.rng
        end_ns = self.clock.batch_end_ns()
        now = time.time()
        request = ExportMetricsServiceRequest()
        scopes: dict[int, object] = {}
        metrics: dict[tuple[int, str], object] = {}
        times = self.clock.spread(count, end_ns)
        for index in range(count):
            series = (self.cursor + index) % self.cardinality
            pod, kind, labels = self.series_labels(series)
            generation = self.generation(series, now)
            state = self.state.get(series)
            if state is None or state.generation != generation:  # born, or replaced by churn
                uid = f"{random.Random(series * 7919 + generation).getrandbits(64):016x}"
                state = SeriesState(generation, times[index] - 60_000_000_000, uid)
                self.state[series] = state
            labels["k8s.pod.uid"] = state.pod_uid
            if extra:
                labels.update(extra)
            scope = scopes.get(pod)
            if scope is None:
                resource = self.fleet.instances[pod].resource
                scope = request.resource_metrics.add(resource=resource).scope_metrics.add(
                    scope=SCOPE
                )
                scopes[pod] = scope
            metric = metrics.get((pod, kind.name))
            if metric is None:
                metric = scope.metrics.add(name=kind.name, unit=kind.unit)
                if kind.kind.startswith("sum"):
                    metric.sum.is_monotonic = True
                    metric.sum.aggregation_temporality = (
                        CUMULATIVE if kind.kind == "sum_cumulative" else DELTA
                    )
                elif kind.kind == "histogram":
                    metric.histogram.aggregation_temporality = CUMULATIVE
                metrics[(pod, kind.name)] = metric
            time_ns = times[index]
            if kind.kind == "gauge":
                point = metric.gauge.data_points.add(time_unix_nano=time_ns)
                if kind.unit == "By":
                    point.as_int = int(rng.lognormvariate(19, 0.6))
                else:
                    point.as_double = round(rng.betavariate(2, 5), 4)
            elif kind.kind == "sum_cumulative":
                state.total += rng.randint(0, 500)
                point = metric.sum.data_points.add(
                    start_time_unix_nano=state.start_ns,
                    time_unix_nano=time_ns,
                    as_int=int(state.total),
                )
            elif kind.kind == "sum_delta":
                point = metric.sum.data_points.add(
                    start_time_unix_nano=time_ns - 10_000_000_000, time_unix_nano=time_ns,
                    as_int=rng.randint(0, 2_000),
                )  # fmt: skip
            else:
                for _ in range(rng.randint(5, 60)):
                    seconds = rng.lognormvariate(-3.2, 1.1)
                    state.histogram_sum += seconds
                    slot = next(
                        (i for i, bound in enumerate(BOUNDS) if seconds <= bound), len(BOUNDS)
                    )
                    state.buckets[slot] += 1
                point = metric.histogram.data_points.add(
                    start_time_unix_nano=state.start_ns,
                    time_unix_nano=time_ns,
                    count=sum(state.buckets),
                    sum=round(state.histogram_sum, 6),
                    bucket_counts=state.buckets,
                    explicit_bounds=BOUNDS,
                )
            point.attributes.extend(attributes(labels))
        self.cursor = (self.cursor + count) % self.cardinality
        return request


def metrics_request(
    tenant: Tenant, rng: random.Random, series: int, extra: Mapping[str, object] | None = None
) -> ExportMetricsServiceRequest:
    """One point of each of ``series`` series for ``tenant``'s fleet, from ``MetricsGenerator``.

    Series are laid out pod by pod, so up to one per pod (36 in the default fleet) they are all
    ``system.cpu.utilization`` gauges, one series per pod: what the smoke journey reads back.
    """
    fleet = Fleet(rng, namespace=tenant.tenant_id)
    generator = MetricsGenerator(fleet, rng, Clock(TimestampSettings(), rng), cardinality=series)
    return generator.batch(series, extra)

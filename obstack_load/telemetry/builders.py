"""Small, realistic OTLP export requests for one tenant, built with the official messages.

These are the building blocks of the smoke journey: a batch of log records, a few metric kinds and
one multi-span trace, each carrying OpenTelemetry semantic-convention resource attributes. Every
builder takes a ``random.Random`` so that a seed reproduces the payloads exactly.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from obstack_load.telemetry.fleet import SCOPE, attributes, random_id
from obstack_load.tenants import Tenant

SEVERITIES = (  # (number, text, weight): most logs are INFO, few are errors
    (SeverityNumber.SEVERITY_NUMBER_DEBUG, "DEBUG", 10),
    (SeverityNumber.SEVERITY_NUMBER_INFO, "INFO", 70),
    (SeverityNumber.SEVERITY_NUMBER_WARN, "WARN", 14),
    (SeverityNumber.SEVERITY_NUMBER_ERROR, "ERROR", 5),
    (SeverityNumber.SEVERITY_NUMBER_FATAL, "FATAL", 1),
)
HTTP_ROUTES = ("/api/orders", "/api/cart", "/api/users/{id}", "/api/search", "/healthz")


def resource(tenant: Tenant, rng: random.Random) -> Resource:
    service = rng.choice(tenant.services)
    host = rng.choice(tenant.hosts)
    return Resource(
        attributes=attributes(
            {
                "service.name": service,
                "service.namespace": tenant.tenant_id,
                "service.version": f"1.{rng.randint(0, 9)}.{rng.randint(0, 30)}",
                "deployment.environment.name": "production",
                "host.name": host,
                "k8s.namespace.name": tenant.tenant_id,
                "k8s.pod.name": f"{service}-{rng.getrandbits(32):08x}",
            }
        )
    )


def logs_request(
    tenant: Tenant,
    rng: random.Random,
    count: int,
    extra: Mapping[str, object] | None = None,
    now_ns: int | None = None,
) -> ExportLogsServiceRequest:
    now_ns = now_ns or time.time_ns()
    request = ExportLogsServiceRequest()
    scope_logs = request.resource_logs.add(resource=resource(tenant, rng)).scope_logs.add(
        scope=SCOPE
    )
    numbers, texts, weights = zip(*SEVERITIES, strict=True)
    for index in range(count):
        level = rng.choices(range(len(numbers)), weights=weights)[0]
        route = rng.choice(HTTP_ROUTES)
        status = rng.choice((200, 200, 200, 201, 404, 500))
        ms = round(rng.lognormvariate(3, 0.8), 1)
        record = scope_logs.log_records.add(
            time_unix_nano=now_ns - (count - index) * 1_000_000,
            observed_time_unix_nano=now_ns,
            severity_number=numbers[level],
            severity_text=texts[level],
        )
        record.body.string_value = f"{texts[level]} GET {route} status={status} duration_ms={ms}"
        record.attributes.extend(
            attributes({"http.route": route, "http.response.status_code": status, **(extra or {})})
        )
        if rng.random() < 0.3:  # a share of logs is correlated with a trace
            record.trace_id = random_id(rng, 16)
            record.span_id = random_id(rng, 8)
    return request


def metrics_request(
    tenant: Tenant,
    rng: random.Random,
    series: int,
    extra: Mapping[str, object] | None = None,
    now_ns: int | None = None,
) -> ExportMetricsServiceRequest:
    """A gauge, a cumulative counter and a histogram, ``series`` data points each."""
    now_ns = now_ns or time.time_ns()
    start_ns = now_ns - 60_000_000_000
    request = ExportMetricsServiceRequest()
    scope = request.resource_metrics.add(resource=resource(tenant, rng)).scope_metrics.add(
        scope=SCOPE
    )
    gauge = scope.metrics.add(name="system.cpu.utilization", unit="1")
    counter = scope.metrics.add(name="http.server.request.count", unit="{request}")
    counter.sum.is_monotonic = True
    counter.sum.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
    histogram = scope.metrics.add(name="http.server.request.duration", unit="s")
    histogram.histogram.aggregation_temporality = (
        AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
    )
    bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]
    for index in range(series):
        labels = attributes({"http.route": HTTP_ROUTES[index % len(HTTP_ROUTES)], **(extra or {})})
        point = gauge.gauge.data_points.add(time_unix_nano=now_ns, as_double=rng.random())
        point.attributes.extend(labels)
        point = counter.sum.data_points.add(
            start_time_unix_nano=start_ns, time_unix_nano=now_ns, as_int=rng.randint(1, 10_000)
        )
        point.attributes.extend(labels)
        counts = [rng.randint(0, 50) for _ in range(len(bounds) + 1)]
        point = histogram.histogram.data_points.add(
            start_time_unix_nano=start_ns,
            time_unix_nano=now_ns,
            count=sum(counts),
            sum=sum(c * b for c, b in zip(counts, bounds + [5.0], strict=True)),
            bucket_counts=counts,
            explicit_bounds=bounds,
        )
        point.attributes.extend(labels)
    return request


def traces_request(
    tenant: Tenant,
    rng: random.Random,
    spans: int,
    extra: Mapping[str, object] | None = None,
    now_ns: int | None = None,
    trace_id: bytes | None = None,
) -> ExportTraceServiceRequest:
    """One trace of ``spans`` spans: a server root span with client and database children."""
    now_ns = now_ns or time.time_ns()
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add(resource=resource(tenant, rng)).scope_spans.add(scope=SCOPE)
    trace_id = trace_id or random_id(rng, 16)
    root_id = random_id(rng, 8)
    total_ns = int(rng.lognormvariate(17.5, 0.7))  # median about 40 ms
    root = scope.spans.add(
        trace_id=trace_id,
        span_id=root_id,
        name="GET /api/orders",
        kind=Span.SpanKind.SPAN_KIND_SERVER,
        start_time_unix_nano=now_ns - total_ns,
        end_time_unix_nano=now_ns,
    )
    root.attributes.extend(
        attributes({"http.request.method": "GET", "http.route": "/api/orders", **(extra or {})})
    )
    for index in range(spans - 1):
        child_start = root.start_time_unix_nano + total_ns * index // spans
        child = scope.spans.add(
            trace_id=trace_id,
            span_id=random_id(rng, 8),
            parent_span_id=root_id,
            name="SELECT orders" if index % 2 else "POST /inventory.Reserve",
            kind=Span.SpanKind.SPAN_KIND_CLIENT,
            start_time_unix_nano=child_start,
            end_time_unix_nano=child_start + total_ns // spans,
        )
        if index % 2:
            child.attributes.extend(attributes({"db.system": "postgresql", **(extra or {})}))
        else:
            child.attributes.extend(attributes({"rpc.system": "grpc", **(extra or {})}))
        if rng.random() < 0.05:
            child.status.code = Status.StatusCode.STATUS_CODE_ERROR
    return request

"""The official OpenTelemetry Python SDK exporter (OTLP/HTTP, protobuf) against the platform.

A real client that nobody here wrote: if our reading of the spec were off, this would say so.
"""

from __future__ import annotations

import logging
import uuid

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor


class Recording:
    """Wraps an exporter and keeps the result of every export call."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.results: list = []

    def export(self, batch):
        result = self.inner.export(batch)
        self.results.append(result)
        return result

    def shutdown(self, *args, **kwargs):
        return self.inner.shutdown(*args, **kwargs)

    def force_flush(self, *args, **kwargs):
        return True


def test_sdk_exports_all_three_signals_and_query_api_returns_them(platform, tenants):
    tenant = tenants.tenants[6]
    marker = uuid.uuid4().hex
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    resource = Resource.create({"service.name": "sdk-checkout", "obstack.marker": marker})

    def exporter(cls, path):
        return cls(
            endpoint=f"{platform.url}{path}",
            headers=headers,
            compression=Compression.Gzip,
            timeout=30,
        )

    # traces
    span_exporter = Recording(exporter(OTLPSpanExporter, "/v1/traces"))
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    tracer = tracer_provider.get_tracer("sdk-test")
    with (
        tracer.start_as_current_span("checkout", attributes={"obstack.marker": marker}) as root,
        tracer.start_as_current_span("charge-card"),
    ):
        pass
    trace_id = format(root.get_span_context().trace_id, "032x")
    tracer_provider.shutdown()

    # logs
    log_exporter = Recording(exporter(OTLPLogExporter, "/v1/logs"))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    logger = logging.getLogger(f"sdk-test-{marker}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
    logger.warning("payment declined marker=%s", marker)
    logger.info("order placed marker=%s", marker)
    logger_provider.shutdown()

    # metrics: read in memory, then export the snapshot through the real exporter
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    counter = meter_provider.get_meter("sdk-test").create_counter("sdk.orders", unit="{order}")
    counter.add(5, {"region": "eu"})
    counter.add(2, {"region": "us"})
    histogram = meter_provider.get_meter("sdk-test").create_histogram("sdk.latency", unit="ms")
    histogram.record(12.5, {"region": "eu"})
    metric_exporter = exporter(OTLPMetricExporter, "/v1/metrics")
    assert metric_exporter.export(reader.get_metrics_data()) == MetricExportResult.SUCCESS
    meter_provider.shutdown()

    assert [r.name for r in span_exporter.results] == ["SUCCESS", "SUCCESS"]
    assert [r.name for r in log_exporter.results] == ["SUCCESS", "SUCCESS"]

    token = platform.token_for(tenants, 6, "viewer")
    trace = platform.get(f"/api/v1/traces/{trace_id}", token).json()
    assert {s["name"] for s in trace["spans"]} == {"checkout", "charge-card"}
    assert trace["summary"]["root_service"] == "sdk-checkout"

    logs = platform.get("/api/v1/logs/search", token, params={"q": marker}).json()["records"]
    assert sorted(r["severity_text"] for r in logs) == ["INFO", "WARN"]
    assert all(r["service"] == "sdk-checkout" for r in logs)

    orders = platform.get(
        "/api/v1/metrics/query",
        token,
        params={"name": "sdk.orders", "by": "region", "aggregation": "last"},
    ).json()
    values = {s["labels"]["region"]: s["points"][-1][1] for s in orders["series"]}
    assert values == {"eu": 5.0, "us": 2.0}
    latency = platform.get(
        "/api/v1/metrics/query", token, params={"name": "sdk.latency_count", "aggregation": "last"}
    ).json()
    assert latency["series"][0]["points"][-1][1] == 1.0
    usage = platform.get("/api/v1/usage", token).json()["signals"]
    assert all(usage[s]["rejected"] == 0 for s in ("logs", "metrics", "traces"))

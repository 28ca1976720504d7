"""The data generators: realistic, deterministic from a seed, and decodable by the official messages."""

from __future__ import annotations

import gzip
import random
from collections import Counter

import pytest

from obstack_load.telemetry import otlp
from obstack_load.telemetry.clock import Clock, TimestampSettings
from obstack_load.telemetry.fleet import Fleet
from obstack_load.telemetry.logs import LogsGenerator
from obstack_load.telemetry.metrics import MetricsGenerator
from obstack_load.telemetry.traces import TracesGenerator

NOW_NS = 1_790_000_000_000_000_000


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    """Timestamps from a fixed 'now', so that the same seed gives the same bytes."""
    monkeypatch.setattr("obstack_load.telemetry.clock.time.time_ns", lambda: NOW_NS)
    monkeypatch.setattr("obstack_load.telemetry.metrics.time.time", lambda: NOW_NS / 1e9)


def generator(signal: str, seed: int = 7, timestamps: TimestampSettings | None = None, **kwargs):
    rng = random.Random(seed)
    fleet = Fleet(random.Random(f"fleet:{seed}"))
    clock = Clock(timestamps or TimestampSettings(), rng)
    kind = {"logs": LogsGenerator, "metrics": MetricsGenerator, "traces": TracesGenerator}[signal]
    return kind(fleet, rng, clock, **kwargs)


def resource_attributes(resource) -> dict:
    return {kv.key: kv.value.string_value for kv in resource.attributes}


@pytest.mark.parametrize("signal", ["logs", "metrics", "traces"])
def test_same_seed_same_bytes_other_seed_other_bytes(signal):
    first = [generator(signal).batch(100).SerializeToString() for _ in range(1)]
    again = [generator(signal).batch(100).SerializeToString() for _ in range(1)]
    other = [generator(signal, seed=8).batch(100).SerializeToString() for _ in range(1)]
    assert first == again
    assert first != other


@pytest.mark.parametrize("signal", ["logs", "metrics", "traces"])
@pytest.mark.parametrize("content_type", [otlp.PROTOBUF, otlp.JSON])
def test_exact_item_count_round_trip_and_realistic_compression(signal, content_type):
    source = generator(signal)
    for size in (1, 17, 100, 500):
        message = source.batch(size)
        body = otlp.encode(message, content_type)
        decoded = otlp.decode(body, otlp.SIGNALS[signal].request_type, content_type)
        assert otlp.count_items(signal, decoded) == size
        assert decoded == message
        if size >= 100:
            # docs/ingestion.md: protobuf about 3.5:1 (logs) to 7:1 (metrics), JSON 7:1 to 16:1
            ratio = len(body) / len(gzip.compress(body))
            low, high = (3.5, 8.0) if content_type == otlp.PROTOBUF else (7.0, 17.0)
            assert low <= ratio <= high, f"{signal} {content_type} gzip ratio {ratio:.1f}"


@pytest.mark.parametrize("signal", ["logs", "metrics", "traces"])
def test_resources_follow_semantic_conventions(signal):
    message = generator(signal).batch(200)
    groups = getattr(message, f"resource_{'spans' if signal == 'traces' else signal}")
    for group in groups:
        attrs = resource_attributes(group.resource)
        for key in (
            "service.name",
            "service.version",
            "host.name",
            "k8s.pod.name",
            "k8s.namespace.name",
        ):
            assert attrs[key], key


def test_logs_mix_formats_severities_and_trace_context():
    records = [
        record
        for _ in range(20)
        for resource in generator("logs").batch(100).resource_logs
        for scope in resource.scope_logs
        for record in scope.log_records
    ] + [
        record
        for resource in generator("logs", seed=9).batch(2000).resource_logs
        for scope in resource.scope_logs
        for record in scope.log_records
    ]
    bodies = [r.body.string_value for r in records]
    assert len(set(bodies[-2000:])) > 1990, "no batch of identical records"
    assert any(b.startswith("{") and '"level"' in b for b in bodies), "JSON application logs"
    assert any('HTTP/1.1" ' in b for b in bodies), "access logs"
    assert any(b.startswith("<") and "]: " in b for b in bodies), "syslog lines"
    assert any("Traceback" in b or "\tat com." in b for b in bodies), "stack traces"
    severities = Counter(r.severity_text for r in records[-2000:])
    assert (
        severities["INFO"] > severities["WARN"] > severities["ERROR"] > severities.get("FATAL", 0)
    )
    with_trace = sum(1 for r in records[-2000:] if r.trace_id) / 2000
    assert 0.15 < with_trace < 0.4
    assert all(len(r.trace_id) in (0, 16) and len(r.span_id) in (0, 8) for r in records)


def test_log_formats_severities_and_trace_context_match_the_documented_shares():
    """docs/ingestion.md's figures, over 20,000 records (seeded, so exact from run to run)."""
    records = [
        record
        for resource in generator("logs", seed=9).batch(20_000).resource_logs
        for scope in resource.scope_logs
        for record in scope.log_records
    ]
    bodies = [r.body.string_value for r in records]

    def kind(body: str) -> str:
        if body.startswith("{"):
            return "json"
        if 'HTTP/1.1" ' in body:
            return "access"
        return "syslog" if body.startswith("<") else "stacktrace"

    kinds = [kind(b) for b in bodies]
    shares = {k: n / len(kinds) for k, n in Counter(kinds).items()}
    for name, documented in (
        ("json", 0.50),
        ("access", 0.30),
        ("syslog", 0.17),
        ("stacktrace", 0.03),
    ):
        assert abs(shares[name] - documented) <= 0.02, (name, shares)
    app = [r for r, k in zip(records, kinds, strict=True) if k == "json"]
    severities = {s: n / len(app) for s, n in Counter(r.severity_text for r in app).items()}
    for name, documented in (("INFO", 0.70), ("WARN", 0.13), ("ERROR", 0.06)):
        assert abs(severities[name] - documented) <= 0.03, (name, severities)
    traced = [r for r, k in zip(records, kinds, strict=True) if k != "syslog"]
    share = sum(1 for r in traced if r.trace_id) / len(traced)
    assert abs(share - 0.30) <= 0.03, share


def test_about_three_percent_of_calls_fail():
    spans = [
        span
        for r in generator("traces").batch(30_000).resource_spans
        for s in r.scope_spans
        for span in s.spans
    ]
    failed = sum(1 for s in spans if s.status.code == s.status.STATUS_CODE_ERROR) / len(spans)
    assert 0.02 <= failed <= 0.05, failed


def series_of(message) -> set:
    """Series identities: resource pod, metric name and point attributes."""
    out = set()
    for resource in message.resource_metrics:
        pod = resource_attributes(resource.resource)["k8s.pod.name"]
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                kind = metric.WhichOneof("data")
                for point in getattr(metric, kind).data_points:
                    labels = tuple(sorted((kv.key, str(kv.value)) for kv in point.attributes))
                    out.add((pod, metric.name, labels))
    return out


def test_metrics_cardinality_is_exact_and_kinds_are_all_there():
    source = generator("metrics", cardinality=1234)
    seen, kinds = set(), set()
    for _ in range(13):  # 1,300 points: every series once, some twice
        message = source.batch(100)
        seen |= series_of(message)
        for resource in message.resource_metrics:
            for metric in resource.scope_metrics[0].metrics:
                kind = metric.WhichOneof("data")
                temporality = getattr(getattr(metric, kind), "aggregation_temporality", None)
                kinds.add((kind, temporality))
    assert len(seen) == 1234
    assert {k for k, _ in kinds} == {"gauge", "sum", "histogram"}
    assert ("sum", 1) in kinds and ("sum", 2) in kinds, "delta and cumulative sums"


def test_cumulative_series_only_grow_and_histograms_add_up():
    source = generator("metrics", cardinality=50)
    totals: dict = {}
    for _ in range(6):
        for resource in source.batch(50).resource_metrics:
            for metric in resource.scope_metrics[0].metrics:
                if metric.WhichOneof("data") == "histogram":
                    for point in metric.histogram.data_points:
                        assert sum(point.bucket_counts) == point.count
                        assert len(point.bucket_counts) == len(point.explicit_bounds) + 1
                if metric.WhichOneof("data") == "sum" and metric.sum.aggregation_temporality == 2:
                    for point in metric.sum.data_points:
                        key = (
                            metric.name,
                            tuple((kv.key, str(kv.value)) for kv in point.attributes),
                        )
                        assert point.as_int >= totals.get(key, 0)
                        totals[key] = point.as_int
    assert totals


def test_churn_replaces_series_at_the_configured_rate(monkeypatch):
    source = generator("metrics", cardinality=200, churn_per_minute=30)
    before = source.batch(200)
    monkeypatch.setattr("obstack_load.telemetry.metrics.time.time", lambda: NOW_NS / 1e9 + 120)
    after = source.batch(200)
    old, new = series_of(before), series_of(after)
    assert len(old) == len(new) == 200, "cardinality holds"
    assert len(new - old) == 60, "two minutes at 30 new series per minute"


def test_traces_are_call_trees_with_semantic_conventions_and_errors():
    message = generator("traces").batch(3000)
    spans = [
        (resource_attributes(r.resource)["service.name"], span)
        for r in message.resource_spans
        for s in r.scope_spans
        for span in s.spans
    ]
    assert len(spans) == 3000
    by_id = {(s.trace_id, s.span_id): (service, s) for service, s in spans}
    roots = [s for _, s in spans if not s.parent_span_id]
    assert len({s.trace_id for _, s in spans}) == len(roots) > 50
    services_per_trace: dict = {}
    for service, span in spans:
        services_per_trace.setdefault(span.trace_id, set()).add(service)
        if span.parent_span_id:
            parent_service, parent = by_id[(span.trace_id, span.parent_span_id)]
            assert parent.start_time_unix_nano <= span.start_time_unix_nano
            assert span.end_time_unix_nano <= parent.end_time_unix_nano
            if span.kind == span.SPAN_KIND_SERVER:  # the callee side of an RPC
                assert parent.kind == span.SPAN_KIND_CLIENT
    assert max(len(s) for s in services_per_trace.values()) >= 3, "multi-service traces"
    keys = {kv.key for _, s in spans for kv in s.attributes}
    assert {
        "http.request.method",
        "http.route",
        "rpc.system",
        "db.system.name",
        "db.query.text",
    } <= keys
    errors = [s for _, s in spans if s.status.code == s.status.STATUS_CODE_ERROR]
    assert errors and any(e.name == "exception" for s in errors for e in s.events)
    durations = sorted(s.end_time_unix_nano - s.start_time_unix_nano for s in roots)
    assert durations[len(durations) // 2] < durations[-1] / 3, "a long tail of slow requests"


def test_timestamps_backfill_and_out_of_order():
    settings = TimestampSettings(
        mode="backfill", backfill_s=3600, out_of_order=0.2, out_of_order_max_s=60
    )
    clock = Clock(settings, random.Random(1))
    ends = [clock.batch_end_ns() for _ in range(500)]
    assert all(NOW_NS - 3600 * 10**9 <= t <= NOW_NS for t in ends)
    assert max(ends) - min(ends) > 3000 * 10**9, "spread over the window"
    times = clock.spread(1000, NOW_NS)
    displaced = sum(1 for a, b in zip(times, times[1:], strict=False) if b < a)
    assert 100 < displaced < 300, "about a fifth out of order"
    assert min(times) >= NOW_NS - 61 * 10**9
    assert Clock(TimestampSettings(), random.Random(1)).spread(100, NOW_NS) == sorted(
        Clock(TimestampSettings(), random.Random(1)).spread(100, NOW_NS)
    )

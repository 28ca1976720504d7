"""Our payloads decode with the official opentelemetry-proto messages, and our JSON follows OTLP's rules."""

from __future__ import annotations

import json
import random

import pytest

from obstack_load.core.tenants import load_population
from obstack_load.telemetry import logs, metrics, otlp, traces

TENANT = load_population().tenants[0]


def all_messages():
    rng = random.Random(11)
    return {
        "logs": logs.logs_request(TENANT, rng, 50),
        "metrics": metrics.metrics_request(TENANT, rng, 5),
        "traces": traces.traces_request(TENANT, rng, 6),
    }


@pytest.mark.parametrize("signal", ["logs", "metrics", "traces"])
def test_protobuf_round_trip_with_official_messages(signal):
    message = all_messages()[signal]
    decoded = otlp.SIGNALS[signal].request_type.FromString(otlp.encode(message))
    assert decoded == message
    assert otlp.count_items(signal, decoded) > 0


@pytest.mark.parametrize("signal", ["logs", "metrics", "traces"])
def test_json_follows_otlp_rules(signal):
    message = all_messages()[signal]
    body = otlp.encode(message, otlp.JSON)
    data = json.loads(body)
    text = body.decode()
    assert "resource_" not in text, "keys are lowerCamelCase"
    ids, int64s, enums = [], [], []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("traceId", "spanId", "parentSpanId"):
                    ids.append(value)
                elif key.endswith("UnixNano") or key in ("asInt", "count"):
                    int64s.append(value)
                elif key in ("kind", "severityNumber", "aggregationTemporality"):
                    enums.append(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    assert int64s and all(isinstance(v, str) and v.isdigit() for v in int64s)
    assert all(isinstance(v, int) for v in enums)
    for value in ids:
        assert len(value) in (16, 32) and int(value, 16) >= 0, value
    assert otlp.decode(body, otlp.SIGNALS[signal].request_type, otlp.JSON) == message


def test_traces_have_parent_child_structure_and_ids_in_hex():
    message = all_messages()["traces"]
    spans = message.resource_spans[0].scope_spans[0].spans
    root = [s for s in spans if not s.parent_span_id]
    assert len(root) == 1
    assert all(s.parent_span_id == root[0].span_id for s in spans if s.parent_span_id)
    assert len({s.trace_id for s in spans}) == 1


def test_decompress_refuses_zip_bombs_and_garbage():
    bomb = otlp.compress(b"\0" * 1_000_000)
    with pytest.raises(otlp.TooLarge):
        otlp.decompress(bomb, 10_000)
    assert otlp.decompress(bomb, 1_000_000) == b"\0" * 1_000_000
    with pytest.raises(otlp.DecodeFailure):
        otlp.decompress(b"garbage", 100)
    with pytest.raises(otlp.DecodeFailure):
        otlp.decompress(bomb[:20], 10_000_000)


def test_batches_are_not_identical_records():
    logs = all_messages()["logs"]
    bodies = [r.body.string_value for r in logs.resource_logs[0].scope_logs[0].log_records]
    assert len(set(bodies)) > len(bodies) // 2
    raw = otlp.encode(logs)
    ratio = len(raw) / len(otlp.compress(raw))
    assert 3 <= ratio <= 50, ratio

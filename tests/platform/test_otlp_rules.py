"""The reference platform follows the server half of OTLP/HTTP."""

from __future__ import annotations

import gzip
import json
import random

import pytest
import requests
from google.rpc import error_details_pb2, status_pb2

from obstack_load.telemetry import logs, metrics, otlp, traces
from tests.support import RunningPlatform, start_platform


def post(
    platform: RunningPlatform, path: str, body: bytes, headers: dict[str, str]
) -> requests.Response:
    return requests.post(f"{platform.url}{path}", data=body, headers=headers, timeout=30)


def key_headers(tenant, content_type: str = otlp.PROTOBUF, **extra: str) -> dict[str, str]:
    return {"Content-Type": content_type, "Authorization": f"Bearer {tenant.api_key}", **extra}


def build(signal: str, tenant, count: int = 10):
    rng = random.Random(7)
    if signal == "logs":
        return logs.logs_request(tenant, rng, count)
    if signal == "metrics":
        return metrics.metrics_request(tenant, rng, count)
    return traces.traces_request(tenant, rng, count)


def usage(platform: RunningPlatform, tenants, index: int) -> dict:
    return platform.get("/api/v1/usage", platform.token_for(tenants, index)).json()["signals"]


@pytest.mark.parametrize("signal", ["logs", "metrics", "traces"])
@pytest.mark.parametrize("content_type", [otlp.PROTOBUF, otlp.JSON])
@pytest.mark.parametrize("compressed", [False, True])
def test_accepts_both_encodings_with_and_without_gzip(
    platform, tenants, signal, content_type, compressed
):
    tenant = tenants.tenants[3]
    message = build(signal, tenant)
    items = otlp.count_items(signal, message)
    before = usage(platform, tenants, 3)[signal]["accepted"]
    body = otlp.encode(message, content_type)
    headers = key_headers(tenant, content_type)
    if compressed:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    response = post(platform, otlp.SIGNALS[signal].path, body, headers)
    assert response.status_code == 200, response.content
    assert response.headers["content-type"].startswith(content_type)
    answer = otlp.decode(response.content, otlp.SIGNALS[signal].response_type, content_type)
    assert not answer.HasField("partial_success")
    assert usage(platform, tenants, 3)[signal]["accepted"] == before + items


def test_json_ids_are_hex_and_base64_ids_are_refused(platform, tenants):
    tenant = tenants.tenants[2]
    message = build("traces", tenant, 3)
    data = otlp.to_json_dict(message)
    span = data["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["traceId"] == message.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    assert isinstance(span["startTimeUnixNano"], str)
    ok = post(platform, "/v1/traces", json.dumps(data).encode(), key_headers(tenant, otlp.JSON))
    assert ok.status_code == 200
    span["traceId"] = "AAECAwQFBgcICQoLDA0ODw=="  # base64, which OTLP/JSON forbids
    bad = post(platform, "/v1/traces", json.dumps(data).encode(), key_headers(tenant, otlp.JSON))
    assert bad.status_code == 400


def test_undecodable_body_gets_400_with_rpc_status(platform, tenants):
    tenant = tenants.tenants[0]
    response = post(platform, "/v1/logs", b"\xff\xff\xff not protobuf", key_headers(tenant))
    assert response.status_code == 400
    status = status_pb2.Status.FromString(response.content)
    assert status.code == 3  # INVALID_ARGUMENT
    assert status.message
    detail = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(detail)
    json_response = post(platform, "/v1/logs", b"{not json", key_headers(tenant, otlp.JSON))
    assert json_response.status_code == 400
    assert json.loads(json_response.content)["code"] == 3


def test_broken_gzip_gets_400(platform, tenants):
    headers = key_headers(tenants.tenants[0], **{"Content-Encoding": "gzip"})
    assert post(platform, "/v1/logs", b"not gzip at all", headers).status_code == 400


def test_unknown_content_type_gets_415(platform, tenants):
    headers = key_headers(tenants.tenants[0], "text/plain")
    response = post(platform, "/v1/logs", b"hello", headers)
    assert response.status_code == 415
    assert status_pb2.Status.FromString(response.content).message


def test_empty_request_is_success(platform, tenants):
    response = post(platform, "/v1/metrics", b"", key_headers(tenants.tenants[0]))
    assert response.status_code == 200


def test_partial_success_counts_rejected_items(platform, tenants):
    tenant = tenants.tenants[4]
    message = build("logs", tenant, 10)
    records = message.resource_logs[0].scope_logs[0].log_records
    records[0].trace_id = b"\x01\x02\x03"  # wrong length: invalid
    records[1].span_id = b"\x01"
    before = usage(platform, tenants, 4)["logs"]
    response = post(platform, "/v1/logs", otlp.encode(message), key_headers(tenant))
    assert response.status_code == 200
    answer = otlp.decode(response.content, otlp.SIGNALS["logs"].response_type, otlp.PROTOBUF)
    assert answer.partial_success.rejected_log_records == 2
    assert "rejected" in answer.partial_success.error_message
    after = usage(platform, tenants, 4)["logs"]
    assert after["accepted"] - before["accepted"] == 8
    assert after["rejected"] - before["rejected"] == 2


def test_auth_rules_for_ingestion(platform, tenants):
    mine, other = tenants.tenants[0], tenants.tenants[1]
    body = otlp.encode(build("logs", mine, 2))
    assert post(platform, "/v1/logs", body, {"Content-Type": otlp.PROTOBUF}).status_code == 401
    only_org = {"Content-Type": otlp.PROTOBUF, "X-Scope-OrgID": mine.tenant_id}
    assert post(platform, "/v1/logs", body, only_org).status_code == 401
    via_header = {"Content-Type": otlp.PROTOBUF, "X-API-Key": mine.api_key}
    assert post(platform, "/v1/logs", body, via_header).status_code == 200
    matching = key_headers(mine, **{"X-Scope-OrgID": mine.tenant_id})
    assert post(platform, "/v1/logs", body, matching).status_code == 200
    foreign = key_headers(mine, **{"X-Scope-OrgID": other.tenant_id})
    response = post(platform, "/v1/logs", body, foreign)
    assert response.status_code == 403
    assert status_pb2.Status.FromString(response.content).code == 7  # PERMISSION_DENIED
    wrong_key = {"Content-Type": otlp.PROTOBUF, "Authorization": "Bearer obk_not_a_key"}
    assert post(platform, "/v1/logs", body, wrong_key).status_code == 401


def test_body_over_limit_gets_413():
    small = start_platform("--max-body-bytes", "3000")  # a 2-record batch is about 2.3 kB
    try:
        from tests.support import population

        tenant = population().tenants[0]
        message = build("logs", tenant, 100)
        raw = otlp.encode(message)
        assert len(raw) > 2000
        assert post(small, "/v1/logs", raw, key_headers(tenant)).status_code == 413
        # compressed it is small on the wire, but the limit applies after decompression
        packed = gzip.compress(raw)
        assert len(packed) < 2000 * 4
        headers = key_headers(tenant, **{"Content-Encoding": "gzip"})
        assert post(small, "/v1/logs", packed, headers).status_code == 413
        assert (
            post(
                small, "/v1/logs", otlp.encode(build("logs", tenant, 2)), key_headers(tenant)
            ).status_code
            == 200
        )
    finally:
        small.stop()


def test_rate_limit_answers_429_with_retry_after():
    limited = start_platform("--ingest-rate-limit", "50")
    try:
        from tests.support import population

        tenants = population()
        tenant = tenants.tenants[0]
        body = otlp.encode(build("logs", tenant, 40))
        codes = [post(limited, "/v1/logs", body, key_headers(tenant)) for _ in range(3)]
        assert codes[0].status_code == 200
        throttled = [r for r in codes if r.status_code == 429]
        assert throttled, [r.status_code for r in codes]
        retry_after = throttled[0].headers["Retry-After"]
        assert retry_after.isdigit() and int(retry_after) >= 1
        assert status_pb2.Status.FromString(throttled[0].content).code == 8  # RESOURCE_EXHAUSTED
        # the limit is per tenant: another tenant is not throttled
        other = tenants.tenants[5]
        assert (
            post(
                limited, "/v1/logs", otlp.encode(build("logs", other, 40)), key_headers(other)
            ).status_code
            == 200
        )
        signals = limited.get("/api/v1/usage", limited.token_for(tenants, 0)).json()["signals"]
        assert signals["logs"]["throttled_requests"] == len(throttled)
        assert signals["logs"]["accepted"] == 40 * (3 - len(throttled))
    finally:
        limited.stop()

"""The OTLP client rules, against a real HTTP server that answers from a script
(tests/scripted_http.py): 429, 503 with an HTTP date, 400, partial success, a dropped connection.
Each test runs over both transports: the lean one and Locust's ``FastHttpSession``.
"""

from __future__ import annotations

import email.utils
import random
import time

import locust
import pytest
from locust.event import EventHook
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from obstack_load.core.ledger import IngestLedger
from obstack_load.telemetry.payloads import Payload
from obstack_load.users.lean_http import LeanTransport
from obstack_load.users.otlp_client import OtlpExporter, RetryPolicy, parse_retry_after
from tests.scripted_http import DROP, ScriptedServer, answer

PAYLOAD = Payload(b"x" * 300, items=10, raw_bytes=900, content_type="application/x-protobuf")

ledger = IngestLedger()  # the exporters' under test


@pytest.fixture(params=["lean", "fasthttp"])
def harness(request):
    servers = []
    events: list[dict] = []
    ledger.reset()

    def make(script: list, retries: int = 3, max_wait: float = 5.0):
        from locust.contrib.fasthttp import FastHttpSession

        server = ScriptedServer(script)
        servers.append(server)
        hook = EventHook()
        hook.add_listener(lambda **kw: events.append(kw))
        session = FastHttpSession(
            server.url, hook, user=None, network_timeout=10, connection_timeout=10
        )
        transport = LeanTransport(server.url, timeout_s=10) if request.param == "lean" else None
        exporter = OtlpExporter(
            session, "logs", "tenant-a", {"Content-Type": "application/x-protobuf"},
            retry=RetryPolicy(retries=retries, backoff_s=0.05, max_wait_s=max_wait), rng=random.Random(1),
            transport=transport, ledger=ledger,
        )  # fmt: skip
        return server, exporter

    def listen(**kwargs) -> None:  # the lean transport fires Locust's global request event
        events.append(kwargs)

    if request.param == "lean":
        locust.events.request.add_listener(listen)
    yield make, events
    if request.param == "lean":
        locust.events.request.remove_listener(listen)
    for server in servers:
        server.stop()


def counts():
    return ledger.by_signal()["logs"]


def test_throttled_then_accepted_is_retried_and_recorded_apart_from_errors(harness):
    make, events = harness
    server, exporter = make([answer(429, headers={"Retry-After": "0"}), answer(200)])
    assert exporter.send(PAYLOAD)
    assert [(e["name"], e["exception"]) for e in events] == [
        ("/v1/logs (throttled)", None),
        ("/v1/logs", None),
    ]
    c = counts()
    assert (c.batches, c.retries, c.sent_requests, c.throttled_items, c.accepted_items) == (
        1,
        1,
        2,
        10,
        10,
    )
    assert (c.lost_batches, c.failed_items, c.rejected_items) == (0, 0, 0)
    assert c.sent_wire_bytes == 600 and c.accepted_wire_bytes == c.throttled_wire_bytes == 300
    assert c.sent_raw_bytes == 1800


def test_503_with_an_http_date_is_honoured_then_delivered(harness):
    make, events = harness
    when = email.utils.formatdate(time.time() + 2, usegmt=True)  # 1 to 2 s from now, by the date
    server, exporter = make([answer(503, headers={"Retry-After": when}), answer(200)])
    assert exporter.send(PAYLOAD)
    assert server.requests[1] - server.requests[0] >= 0.5
    assert [e["name"] for e in events] == ["/v1/logs", "/v1/logs"]
    assert "HTTP 503" in str(events[0]["exception"]) and events[1]["exception"] is None
    assert (counts().failed_items, counts().accepted_items, counts().retries) == (10, 10, 1)


@pytest.mark.parametrize("status", [400, 401, 413, 500])
def test_other_errors_are_never_retried(harness, status):
    make, events = harness
    server, exporter = make([answer(status), answer(200)])
    assert not exporter.send(PAYLOAD)
    assert len(server.requests) == 1 and len(events) == 1
    assert f"HTTP {status}" in str(events[0]["exception"])
    c = counts()
    assert (c.rejected_requests, c.rejected_items, c.retries, c.lost_batches, c.batches) == (
        1,
        10,
        0,
        0,
        1,
    )


def test_partial_success_counts_rejected_items_and_is_not_retried(harness):
    make, events = harness
    partial = ExportLogsServiceResponse()
    partial.partial_success.rejected_log_records = 3
    partial.partial_success.error_message = "3 records had bad ids"
    server, exporter = make([answer(200, partial.SerializeToString()), answer(200)])
    assert exporter.send(PAYLOAD)
    assert len(server.requests) == 1
    assert exporter.last_rejected == 3
    assert "partial success: 3 records had bad ids" in str(events[0]["exception"])
    c = counts()
    assert (c.accepted_items, c.rejected_items, c.accepted_requests, c.rejected_requests) == (
        7,
        3,
        1,
        0,
    )


def test_dropped_connection_is_retried_with_backoff(harness):
    make, events = harness
    server, exporter = make([DROP, DROP, answer(200)])
    assert exporter.send(PAYLOAD)
    assert (
        len(events) == 3 and events[0]["exception"] is not None and events[2]["exception"] is None
    )
    assert (counts().failed_items, counts().accepted_items, counts().retries) == (20, 10, 2)


def test_giving_up_after_the_last_retry_is_counted_as_lost(harness):
    make, events = harness
    server, exporter = make([answer(503, headers={"Retry-After": "0"})] * 3, retries=2)
    assert not exporter.send(PAYLOAD)
    assert len(server.requests) == 3
    assert "gave up after 3 attempts" in str(events[-1]["exception"])
    c = counts()
    assert (c.lost_batches, c.lost_items, c.failed_items, c.accepted_items, c.batches) == (
        1,
        10,
        30,
        0,
        1,
    )


def test_with_retries_off_a_429_is_final_and_visible(harness):
    make, events = harness
    server, exporter = make([answer(429, headers={"Retry-After": "1"}), answer(200)], retries=0)
    assert not exporter.send(PAYLOAD)
    assert len(server.requests) == 1
    assert events[0]["name"] == "/v1/logs (throttled)" and "throttled (429)" in str(
        events[0]["exception"]
    )
    assert (counts().throttled_items, counts().lost_items) == (10, 10)


def test_retry_after_is_capped():
    policy = RetryPolicy(retries=3, backoff_s=0.5, max_wait_s=2.0)
    rng = random.Random(1)
    assert policy.wait(1, "120", rng, time.time()) == 2.0
    far = email.utils.formatdate(time.time() + 3600, usegmt=True)
    assert policy.wait(1, far, rng, time.time()) == 2.0
    assert policy.wait(1, "0", rng, time.time()) == 0.0


def test_backoff_is_exponential_with_full_jitter():
    policy = RetryPolicy(retries=10, backoff_s=0.1, max_wait_s=100.0)
    rng = random.Random(3)
    for attempt in range(1, 8):
        waits = [policy.wait(attempt, None, rng, 0.0) for _ in range(300)]
        ceiling = 0.1 * 2 ** (attempt - 1)
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.9 and min(waits) < ceiling * 0.1, "spread over [0, ceiling]"


def test_parse_retry_after():
    now = 1_700_000_000.0
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now) == pytest.approx(
        30, abs=1
    )
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None

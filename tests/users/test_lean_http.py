"""The lean transport speaks correct HTTP/1.1 against real nginx (plain and TLS), the reference
platform, and a scripted server for chunked answers, ``Connection: close``, drops and timeouts."""

from __future__ import annotations

from benchmarks.sink import nginx_sink, requests_served
from obstack_load.telemetry import otlp
from obstack_load.users.lean_http import LeanTransport
from tests.scripted_http import DROP, SILENT, ScriptedServer, answer

HEADERS = {"Content-Type": "application/x-protobuf"}


def test_keep_alive_against_nginx_plain_and_tls():
    for tls in (False, True):
        with nginx_sink(tls=tls) as url:
            before = requests_served(url)
            transport = LeanTransport(url, timeout_s=30)
            answers = [transport.post("/v1/logs", b"z" * 20_000, HEADERS) for _ in range(50)]
            transport.close()
            assert {a.status for a in answers} == {200}, [a.error for a in answers]
            assert requests_served(url) - before == 51  # our 50, and the status read itself


def test_reference_platform_answers_are_read_whole(platform, tenants):
    transport = LeanTransport(platform.url, timeout_s=30)
    ok = transport.post(
        "/v1/logs", b"", {**HEADERS, "Authorization": f"Bearer {tenants.tenants[0].api_key}"}
    )
    refused = transport.post(
        "/v1/logs", b"not protobuf", {**HEADERS, "Authorization": "Bearer nope"}
    )
    transport.close()
    assert ok.status == 200
    assert otlp.decode(ok.body, otlp.SIGNALS["logs"].response_type, otlp.PROTOBUF) is not None
    assert refused.status == 401 and refused.body, "the error body (a google.rpc.Status) is read"


def test_chunked_answers_connection_close_and_reconnect():
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    server = ScriptedServer(
        [
            chunked,
            answer(200, b"bye", {"Connection": "close"}),
            answer(503, headers={"Retry-After": "3"}),
        ]
    )
    try:
        transport = LeanTransport(server.url, timeout_s=10)
        first = transport.post("/v1/logs", b"a", HEADERS)
        second = transport.post("/v1/logs", b"b", HEADERS)
        third = transport.post("/v1/logs", b"c", HEADERS)
        transport.close()
    finally:
        server.stop()
    assert (first.status, first.body) == (200, b"hello world")
    assert (second.status, second.body) == (200, b"bye")
    assert (third.status, third.headers) == (503, {"Retry-After": "3"})
    assert server.connections == 2, "kept alive through the chunked answer, reconnected after close"


def test_a_dropped_connection_or_silence_is_an_answer_of_status_zero():
    server = ScriptedServer([DROP, DROP, SILENT])
    try:
        transport = LeanTransport(server.url, timeout_s=1)
        dropped = transport.post("/v1/logs", b"a", HEADERS)
        silent = transport.post("/v1/logs", b"b", HEADERS)
        transport.close()
    finally:
        server.stop()
    assert dropped.status == 0 and dropped.error is not None
    assert silent.status == 0 and silent.error is not None


def test_a_refused_connection_is_status_zero():
    from tests.support import free_port

    answer_ = LeanTransport(f"http://127.0.0.1:{free_port()}", timeout_s=5).post(
        "/v1/logs", b"a", HEADERS
    )
    assert answer_.status == 0 and isinstance(answer_.error, OSError)

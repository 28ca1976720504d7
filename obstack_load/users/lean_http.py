"""The lean transport: requests straight through geventhttpclient's ``HTTPClient``.

Locust's ``FastHttpSession`` is built for browsing-like sessions: per request it parses the
URL, applies a cookie jar, handles redirects and wraps the answer for ``catch_response``. An
OTLP exporter or an API session needs none of that, and on this machine those steps are about a
third of what a generator core spends per request. So the ingestion and API users can send with
geventhttpclient's own client, which still does the HTTP/1.1 work for us: keep-alive pooling,
``Content-Length`` and chunked answers, ``Connection: close``, TLS for https hosts, timeouts and
reconnecting. We measure the time and fire Locust's ``request`` event ourselves (``report``), so
stats, the web UI, thresholds and the results database see every request exactly as they would
from ``FastHttpSession``.
"""

from __future__ import annotations

import time

import gevent.ssl
from geventhttpclient import HTTPClient
from geventhttpclient.url import URL
from locust.contrib.fasthttp import insecure_ssl_context_factory

from obstack_load.users.transport import Answer, Problem, fire_request_event


class LeanTransport:
    """``transport.Transport`` over one geventhttpclient connection; we fire Locust's event."""

    def __init__(self, base_url: str, timeout_s: float = 60.0, insecure: bool = True) -> None:
        url = URL(base_url)
        self.prefix = url.path.rstrip("/")
        # TLS verification follows the user's ``insecure`` flag exactly as FastHttpSession does
        factory = insecure_ssl_context_factory if insecure else gevent.ssl.create_default_context
        self.client = HTTPClient.from_url(
            url, concurrency=1, connection_timeout=timeout_s, network_timeout=timeout_s,
            insecure=insecure, ssl_context_factory=factory,
        )  # fmt: skip

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        """One request; ``path`` may carry its query string. Never raises: no answer is status 0."""
        started = time.time()
        clock = time.perf_counter()
        try:
            response = self.client.request(method, self.prefix + path, body=body, headers=headers)
            try:
                content = response.read()
            finally:
                response.release()
        except Exception as exc:  # any transport failure is an answer of its own kind: none
            return Answer(
                0, error=exc, started=started, elapsed_ms=(time.perf_counter() - clock) * 1000
            )
        retry_after = response.get("retry-after")
        return Answer(
            response.status_code, content, {"Retry-After": retry_after} if retry_after else {},
            started=started, elapsed_ms=(time.perf_counter() - clock) * 1000,
        )  # fmt: skip

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        return self.request("POST", path, body, headers)

    def send(
        self, method: str, path: str, body: bytes, headers: dict[str, str], context: dict
    ) -> Answer:
        answer = self.request(method, path, body, headers)
        answer.method, answer.path, answer.context = method, path, context
        return answer

    def report(self, answer: Answer, name: str, problem: Problem) -> None:
        fire_request_event(answer, name, problem)

    def close(self) -> None:
        self.client.close()

"""The lean transport: OTLP posts straight through geventhttpclient's ``HTTPClient``.

Locust's ``FastHttpSession`` is built for browsing-like sessions: per request it parses the
URL, applies a cookie jar, handles redirects and wraps the answer for ``catch_response``. An
exporter needs none of that, and on this machine those steps are about a fifth of what a
generator core spends per OTLP request. So the ingestion users post with geventhttpclient's own
client, which still does the HTTP/1.1 work for us: keep-alive pooling, ``Content-Length`` and
chunked answers, ``Connection: close``, TLS for https hosts, timeouts and reconnecting. We
measure the time and fire Locust's ``request`` event ourselves, so stats, the web UI, thresholds
and the results database see every request exactly as they would from ``FastHttpSession``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gevent.ssl
from geventhttpclient import HTTPClient
from geventhttpclient.url import URL
from locust.contrib.fasthttp import insecure_ssl_context_factory


@dataclass
class Answer:
    status: int  # 0: no answer (connection refused, reset, timed out)
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    error: Exception | None = None


class LeanTransport:
    def __init__(self, base_url: str, timeout_s: float = 60.0, insecure: bool = True) -> None:
        url = URL(base_url)
        self.prefix = url.path.rstrip("/")
        # TLS verification follows the user's ``insecure`` flag exactly as FastHttpSession does
        factory = insecure_ssl_context_factory if insecure else gevent.ssl.create_default_context
        self.client = HTTPClient.from_url(
            url, concurrency=1, connection_timeout=timeout_s, network_timeout=timeout_s,
            insecure=insecure, ssl_context_factory=factory,
        )  # fmt: skip

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        try:
            response = self.client.request("POST", self.prefix + path, body=body, headers=headers)
            try:
                content = response.read()
            finally:
                response.release()
        except Exception as exc:  # any transport failure is an answer of its own kind: none
            return Answer(0, error=exc)
        retry_after = response.get("retry-after")
        return Answer(
            response.status_code, content, {"Retry-After": retry_after} if retry_after else {}
        )

    def close(self) -> None:
        self.client.close()

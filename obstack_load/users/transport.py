"""The one transport interface the exporter and the API session send through.

As OpenTelemetry's exporters hand encoded bytes to an HTTP transport and judge what comes back,
our senders do the same in two steps, whichever transport carries the bytes:

* ``send`` puts one request on the wire and returns its ``Answer``;
* ``report`` tells Locust how it went (one ``request`` event, under the name the sender chose,
  failed with the sender's problem, if any).

Between the two, the sender judges the answer by its own rules (OTLP's retry rules, the API's
tenant check). Two transports implement it: ``lean_http.LeanTransport`` (geventhttpclient
directly, the fast one) and ``LocustClientTransport`` (Locust's own ``HttpSession`` or
``FastHttpSession``, with ``catch_response``), so both report identical request events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from locust import events
from locust.exception import CatchResponseError

Problem = str | Exception | None


@dataclass
class Answer:
    status: int  # 0: no answer (connection refused, reset, timed out)
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # only Retry-After is kept
    error: Exception | None = None
    started: float = 0.0  # unix time the request was sent
    elapsed_ms: float = 0.0
    method: str = ""
    path: str = ""
    context: dict = field(default_factory=dict)
    pending: Any = None  # what the transport needs to report it (Locust's response manager)


class Transport(Protocol):
    def send(
        self, method: str, path: str, body: bytes, headers: dict[str, str], context: dict
    ) -> Answer:
        """One request; ``path`` may carry its query string. Never raises: no answer is status 0."""

    def report(self, answer: Answer, name: str, problem: Problem) -> None:
        """Fire Locust's ``request`` event for ``answer``, failed with ``problem`` if any."""

    def close(self) -> None: ...


def fire_request_event(answer: Answer, name: str, problem: Problem) -> None:
    """Locust's request event for one answer, as FastHttpSession's ``catch_response`` fires it:
    a text problem becomes a ``CatchResponseError``, an exception is reported as it is."""
    if isinstance(problem, str):
        problem = CatchResponseError(problem)
    events.request.fire(
        request_type=answer.method, name=name, response_time=answer.elapsed_ms,
        response_length=len(answer.body), exception=problem, context=answer.context,
        start_time=answer.started, url=answer.path, response=None,
    )  # fmt: skip


class LocustClientTransport:
    """Sends through a Locust client (``self.client``); Locust measures and fires the event."""

    def __init__(self, client) -> None:
        self.client = client

    def send(
        self, method: str, path: str, body: bytes, headers: dict[str, str], context: dict
    ) -> Answer:
        manager = self.client.request(
            method, path, data=body or None, headers=headers, name=path,
            catch_response=True, context=context,
        )  # fmt: skip
        response = manager.__enter__()  # left open until ``report``: that is when Locust fires
        status = response.status_code or 0
        retry_after = (response.headers or {}).get("Retry-After")
        return Answer(
            status,
            response.content or b"",
            {"Retry-After": retry_after} if retry_after else {},
            error=getattr(response, "error", None) if status == 0 else None,
            method=method,
            path=path,
            context=context,
            pending=(manager, response),
        )

    def report(self, answer: Answer, name: str, problem: Problem) -> None:
        manager, response = answer.pending
        response.request_meta["name"] = name
        if problem is None:
            response.success()
        else:
            response.failure(problem)  # Locust makes a text problem a CatchResponseError
        manager.__exit__(None, None, None)

    def close(self) -> None:
        """Locust owns its client's connections."""

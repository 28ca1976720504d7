"""The OTLP/HTTP client half: send one batch through a Locust HTTP client, retry by the OTLP
rules, and account for every attempt.

The rules (opentelemetry-proto's specification, see ../shared/reference/otlp-http-checklist.md):

* retry only 429, 502, 503 and 504, honouring ``Retry-After`` in seconds or as an HTTP date, and
  a dropped connection; back off exponentially with full jitter when the server names no time;
  never wait longer than the cap;
* never retry a 400 or any other answer; a 200 with ``partial_success`` is not retried either,
  its refused items are counted as rejected;
* throttling is not an error: a 429 is reported under its own request name,
  ``<path> (throttled)``, so the path's own failure rate shows real errors only.

Every attempt is one Locust ``request`` event, so stats, the web UI and the results database see
each one, whichever transport carries it: Locust's ``FastHttpSession`` or the lean transport.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

import gevent
from google.protobuf.message import Message

from obstack_load.accounting import ledger
from obstack_load.telemetry import otlp
from obstack_load.telemetry.payloads import Payload, encode_payload
from obstack_load.users.lean_http import LeanTransport, report

RETRYABLE = frozenset({429, 502, 503, 504})
THROTTLED_SUFFIX = " (throttled)"


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 5  # 0: every answer is final
    backoff_s: float = 0.5
    max_wait_s: float = 30.0

    def wait(self, attempt: int, retry_after: str | None, rng: random.Random, now: float) -> float:
        """Seconds before retry number ``attempt`` (1-based)."""
        told = parse_retry_after(retry_after, now)
        if told is None:
            told = rng.uniform(0, self.backoff_s * 2 ** (attempt - 1))  # "full jitter"
        return min(max(told, 0.0), self.max_wait_s)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - now


class OtlpExporter:
    """Sends batches of one signal for one tenant over one Locust HTTP client."""

    def __init__(
        self,
        client,
        signal: str,
        tenant_id: str,
        headers: dict[str, str],
        path: str | None = None,
        retry: RetryPolicy = RetryPolicy(),
        rng: random.Random | None = None,
        transport: LeanTransport | None = None,
    ) -> None:
        """Posts through ``transport`` when given, else through the Locust ``client``."""
        self.client = client
        self.transport = transport
        self.signal = otlp.SIGNALS[signal]
        self.tenant_id = tenant_id
        self.headers = headers
        self.path = path or self.signal.path
        self.retry = retry
        self.rng = rng or random.Random()
        self.last_rejected = 0  # items the last delivered batch had refused (partial success)

    def send(self, payload: Payload, context: dict | None = None) -> bool:
        """Deliver one batch, retrying as the rules allow; True when the platform took it.

        ``context`` goes with each request event (the results plugin reads ``obstack_items``).
        """
        context = {**payload.context, **context} if context else payload.context
        attempt = 1
        while True:
            retry_in = self._attempt(payload, context, attempt)
            if retry_in is None or retry_in < 0:
                return retry_in is None
            attempt += 1
            gevent.sleep(retry_in)

    def _attempt(self, payload: Payload, context: dict, attempt: int) -> float | None:
        """None: delivered. A negative number: given up (or refused). Else: retry after that long."""
        if self.transport is not None:
            answer = self.transport.post(self.path, payload.body, self.headers)
            name, problem, retry_in = self._judge(
                payload, answer.status, answer.body, answer.headers, answer.error, attempt
            )
            report("POST", name, answer, problem, context, self.path)
            return retry_in
        with self.client.post(
            self.path, data=payload.body, headers=self.headers, name=self.path,
            catch_response=True, context=context,
        ) as response:  # fmt: skip
            status = response.status_code
            body = response.content if 200 <= status < 300 else b""
            error = getattr(response, "error", None) if status == 0 else None
            name, problem, retry_in = self._judge(
                payload, status, body, response.headers or {}, error, attempt
            )
            response.request_meta["name"] = name
            if problem:
                response.failure(problem)
            else:
                response.success()
            return retry_in

    def _judge(
        self, payload: Payload, status: int, body: bytes | None, headers, error, attempt: int
    ) -> tuple[str, str | None, float | None]:
        """Apply the OTLP rules to one answer and count it: (request name, problem, retry_in)."""
        if 200 <= status < 300:
            rejected, problem = self._partial_success(body, payload.content_type)
            self.last_rejected = rejected
            self._count("accepted", payload, rejected)
            return self.path, problem, None
        retryable = status in RETRYABLE or status == 0  # 0: no answer (connection error)
        outcome = "throttled" if status == 429 else "failed" if retryable else "rejected"
        name = self.path + THROTTLED_SUFFIX if status == 429 else self.path
        if not retryable or attempt > self.retry.retries:
            self._count(outcome, payload, next_step="lost" if retryable else "settled")
            return name, self._describe(status, error, attempt, retryable), -1.0
        self._count(outcome, payload, next_step="retry")
        problem = None if status == 429 else self._describe(status, error, attempt, False)
        return (
            name,
            problem,
            self.retry.wait(attempt, headers.get("Retry-After"), self.rng, time.time()),
        )

    def _partial_success(self, body: bytes | None, content_type: str) -> tuple[int, str | None]:
        if not body:
            return 0, None  # an empty 200 is a full success (many collectors answer so)
        try:
            answer = otlp.decode(body, self.signal.response_type, content_type)
        except otlp.DecodeFailure as exc:
            return 0, f"accepted, but the answer is not an OTLP response: {exc}"
        rejected = getattr(answer.partial_success, self.signal.rejected_field)
        if rejected:
            return rejected, f"partial success: {answer.partial_success.error_message}"
        return 0, None

    def _count(
        self, outcome: str, payload: Payload, rejected: int = 0, next_step: str = "settled"
    ) -> None:
        ledger.attempt(
            self.signal.name, self.tenant_id, outcome, payload.items, payload.raw_bytes,
            payload.wire_bytes, rejected, next_step,
        )  # fmt: skip

    @staticmethod
    def _describe(status: int, error: Exception | None, attempt: int, gave_up: bool) -> str:
        what = "throttled (429)" if status == 429 else f"HTTP {status}" if status else "no answer"
        if status == 0 and error is not None:
            what += f": {type(error).__name__}"
        return f"{what}, gave up after {attempt} attempts" if gave_up and attempt > 1 else what


def export(
    client,
    signal_name: str,
    message: Message,
    *,
    tenant_id: str,
    api_key: str,
    content_type: str = otlp.PROTOBUF,
    gzip: bool = True,
    path: str | None = None,
) -> bool:
    """POST one message once (no retries), as the smoke journey does; True when it was taken."""
    headers = {"Content-Type": content_type, "Authorization": f"Bearer {api_key}"}
    if gzip:
        headers["Content-Encoding"] = "gzip"
    exporter = OtlpExporter(client, signal_name, tenant_id, headers, path, RetryPolicy(retries=0))
    return exporter.send(encode_payload(signal_name, message, content_type, gzip))

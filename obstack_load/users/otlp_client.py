"""The OTLP/HTTP client half: send one batch through a transport, retry by the OTLP rules, and
account for every attempt.

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

from obstack_load.core.ledger import IngestLedger
from obstack_load.telemetry import otlp
from obstack_load.telemetry.payloads import Payload, encode_payload
from obstack_load.users.transport import Answer, LocustClientTransport, Transport

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


@dataclass(frozen=True)
class Judgement:
    """What the OTLP rules make of one answer, before anything is recorded."""

    name: str  # the request name to report it under
    problem: str | None  # why the request failed, or None
    outcome: str  # the ledger's: accepted, rejected, throttled or failed
    next_step: str  # settled, retry or lost (given up after the last retry)
    retry_in: float | None  # None: delivered; negative: given up or refused; else seconds
    rejected_items: int = 0  # refused by a partial success


class OtlpExporter:
    """Sends batches of one signal for one tenant through one transport.

    Each attempt is sent (``Transport.send``), judged by the OTLP rules (``judge``, which
    records nothing), reported to Locust (``Transport.report``) and counted in the ledger
    (``record``): one path, whichever transport carries it.
    """

    def __init__(
        self,
        client,
        signal: str,
        tenant_id: str,
        headers: dict[str, str],
        path: str | None = None,
        retry: RetryPolicy = RetryPolicy(),
        rng: random.Random | None = None,
        transport: Transport | None = None,
        ledger: IngestLedger | None = None,
    ) -> None:
        """Posts through ``transport`` when given, else through the Locust ``client``."""
        self.transport: Transport = transport or LocustClientTransport(client)
        self.signal = otlp.SIGNALS[signal]
        self.tenant_id = tenant_id
        self.headers = headers
        self.path = path or self.signal.path
        self.retry = retry
        self.rng = rng or random.Random()
        self.ledger = ledger if ledger is not None else IngestLedger()  # the run's, from users
        self.last_rejected = 0  # items the last delivered batch had refused (partial success)

    def send(self, payload: Payload, context: dict | None = None) -> bool:
        """Deliver one batch, retrying as the rules allow; True when the platform took it.

        ``context`` goes with each request event (the results plugin reads ``obstack_items``).
        """
        context = {**payload.context, **context} if context else payload.context
        attempt = 1
        while True:
            answer = self.transport.send("POST", self.path, payload.body, self.headers, context)
            judgement = self.judge(answer, payload.content_type, attempt)
            self.transport.report(answer, judgement.name, judgement.problem)
            self.record(judgement, payload)
            retry_in = judgement.retry_in
            if retry_in is None or retry_in < 0:
                return retry_in is None
            attempt += 1
            gevent.sleep(retry_in)

    def judge(self, answer: Answer, content_type: str, attempt: int) -> Judgement:
        """Apply the OTLP rules to one answer (attempt number ``attempt``, 1-based)."""
        status = answer.status
        if 200 <= status < 300:
            rejected, problem = self._partial_success(answer.body, content_type)
            return Judgement(self.path, problem, "accepted", "settled", None, rejected)
        retryable = status in RETRYABLE or status == 0  # 0: no answer (connection error)
        outcome = "throttled" if status == 429 else "failed" if retryable else "rejected"
        name = self.path + THROTTLED_SUFFIX if status == 429 else self.path
        if not retryable or attempt > self.retry.retries:
            problem = self._describe(status, answer.error, attempt, retryable)
            return Judgement(name, problem, outcome, "lost" if retryable else "settled", -1.0)
        problem = None if status == 429 else self._describe(status, answer.error, attempt, False)
        wait = self.retry.wait(attempt, answer.headers.get("Retry-After"), self.rng, time.time())
        return Judgement(name, problem, outcome, "retry", wait)

    def record(self, judgement: Judgement, payload: Payload) -> None:
        """Count one judged attempt in the ledger."""
        if judgement.outcome == "accepted":
            self.last_rejected = judgement.rejected_items
        self.ledger.attempt(
            self.signal.name, self.tenant_id, judgement.outcome, payload.items, payload.raw_bytes,
            payload.wire_bytes, judgement.rejected_items, judgement.next_step,
        )  # fmt: skip

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
    ledger: IngestLedger | None = None,
) -> bool:
    """POST one message once (no retries), as the smoke journey does; True when it was taken."""
    headers = {"Content-Type": content_type, "Authorization": f"Bearer {api_key}"}
    if gzip:
        headers["Content-Encoding"] = "gzip"
    exporter = OtlpExporter(
        client, signal_name, tenant_id, headers, path, RetryPolicy(retries=0), ledger=ledger
    )
    return exporter.send(encode_payload(signal_name, message, content_type, gzip))

"""Ingest-then-verify, as Loki's canary does: tag each batch, read it back, count what is missing.

A verifying user tags every batch it writes with this process's run token and a sequence number
(record or span attribute ``obstack.load.batch``), then looks it up through the platform's query
API until every item is visible or ``--otlp-verify-timeout`` passes. Each verdict is a Locust
request event of type ``VERIFY`` named ``<signal> visible``: its response time is the
write-to-visible latency (from sending the batch to the read that first found all of it, so it
is at most one ``--otlp-verify-poll`` late), and a batch not wholly visible in time is a
failure. Locust's stats therefore carry the latency percentiles and the web UI, thresholds and
results database see them; the ledger counts items written, visible and missing per tenant.

Logs are found by attribute search and traces by id (each verified trace batch is one trace).
Metrics have no per-point lookup in the query API, so they are not verified.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import gevent
from locust import events

from obstack_load.core.ledger import IngestLedger
from obstack_load.users.session import ApiSession

VERIFIABLE = ("logs", "traces")
TAG_KEY = "obstack.load.batch"
RUN_TOKEN = uuid.uuid4().hex[:12]  # tells this process's batches from any earlier run's


class MissingData(Exception):
    """A tagged batch was not (wholly) visible through the query API in time."""


@dataclass
class Pending:
    signal: str
    tag: str
    items: int
    written_at: float
    trace_id: str = ""
    next_poll: float = 0.0
    found: int = 0


class Verifier:
    """One user's outstanding tagged batches, polled from the user's own greenlet."""

    def __init__(
        self,
        session: ApiSession,
        tenant_id: str,
        timeout_s: float,
        poll_s: float,
        lookback_s: float,
        ledger: IngestLedger,
    ) -> None:
        self.ledger = ledger  # the run's
        self.session = session
        self.tenant_id = tenant_id
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.lookback_s = lookback_s
        self.pending: list[Pending] = []
        self.sequence = 0

    def next_tag(self) -> str:
        self.sequence += 1
        return f"{RUN_TOKEN}-{id(self):x}-{self.sequence}"

    def written(
        self, signal: str, tag: str, items: int, written_at: float, trace_id: str = ""
    ) -> None:
        self.ledger.record(signal, self.tenant_id, verify_items=items)
        self.pending.append(Pending(signal, tag, items, written_at, trace_id))

    def poll(self) -> None:
        """Look up every batch that is due; report those found whole or out of time."""
        for entry in list(self.pending):
            now = time.time()
            if entry.next_poll > now:
                continue
            entry.found = self._visible(entry)
            now = time.time()
            if entry.found >= entry.items:
                self._report(entry, now, None)
            elif now - entry.written_at >= self.timeout_s:
                missing = entry.items - entry.found
                self._report(
                    entry,
                    now,
                    MissingData(
                        f"{missing} of {entry.items} not visible after {self.timeout_s:g}s"
                    ),
                )
            else:
                entry.next_poll = now + self.poll_s

    def drain(self) -> None:
        """At stop: keep polling until every batch is settled (bounded by the timeout)."""
        while self.pending:
            self.poll()
            if self.pending:
                gevent.sleep(
                    min(self.poll_s, max(0.0, min(e.next_poll for e in self.pending) - time.time()))
                )

    def _visible(self, entry: Pending) -> int:
        if entry.signal == "logs":
            answer = self.session.get(
                "/api/v1/logs/search",
                name="/api/v1/logs/search [verify]",
                params={"attr": f"{TAG_KEY}={entry.tag}", "limit": min(max(entry.items, 1), 1000),
                        "range": f"{int(self.lookback_s)}s"},
            )  # fmt: skip
            return len(answer.get("records", [])) if isinstance(answer, dict) else 0
        answer = self.session.get(
            f"/api/v1/traces/{entry.trace_id}",
            name="/api/v1/traces/[id] [verify]",
            expect_missing=True,
        )
        spans = answer.get("spans", []) if isinstance(answer, dict) else []
        return sum(1 for s in spans if s.get("attributes", {}).get(TAG_KEY) == entry.tag)

    def _report(self, entry: Pending, now: float, problem: Exception | None) -> None:
        self.pending.remove(entry)
        visible = min(entry.found, entry.items)
        self.ledger.record(
            entry.signal,
            self.tenant_id,
            verify_visible_items=visible,
            verify_missing_items=entry.items - visible,
        )
        events.request.fire(
            request_type="VERIFY",
            name=f"{entry.signal} visible",
            response_time=(now - entry.written_at) * 1000,
            response_length=entry.items,
            exception=problem,
            context={},
        )

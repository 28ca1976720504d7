"""The smoke journey: log in, ingest a small OTLP batch of each signal, read each one back.

It proves end to end that the target takes OTLP in both encodings and that what went in comes out
of the query API for the same tenant, and only that tenant.
"""

from __future__ import annotations

import itertools
import uuid

from locust import FastHttpUser, between, task

import obstack_load.run.accounting  # noqa: F401  (the ledger these users write: shipped, summed, summarised)
from obstack_load.run import arrival
from obstack_load.run.context import run_of
from obstack_load.telemetry import otlp
from obstack_load.telemetry.logs import logs_request
from obstack_load.telemetry.metrics import metrics_request
from obstack_load.telemetry.traces import traces_request
from obstack_load.users.otlp_client import export
from obstack_load.users.session import ApiSession
from obstack_load.users.tenancy import assign, pick_account

LOG_RECORDS = 20
METRIC_SERIES = 3
TRACE_SPANS = 5


class SmokeUser(FastHttpUser):
    wait_time = arrival.wait_time(between(0.5, 1.5))
    run_marker = uuid.uuid4().hex[:8]  # tells this run's data apart from earlier runs'

    def on_start(self) -> None:
        self.tenant, self.rng = assign(self.environment)
        self.session = ApiSession(self.client, self.tenant, pick_account(self.tenant, self.rng))
        self.session.login()
        self.sequence = itertools.count()
        arrival.start_on_schedule(self)

    def context(self) -> dict:
        return arrival.context(self)

    def on_stop(self) -> None:
        self.session.logout()

    def _marker(self) -> str:
        return f"{self.run_marker}-{id(self):x}-{next(self.sequence)}"

    def _send(self, signal: str, message, content_type: str, gzip: bool) -> bool:
        return export(
            self.client,
            signal,
            message,
            tenant_id=self.tenant.tenant_id,
            api_key=self.tenant.api_key,
            content_type=content_type,
            gzip=gzip,
            ledger=run_of(self.environment).ledger,
        )

    @task
    def ingest_and_read_back(self) -> None:
        marker = {"obstack.marker": self._marker()}
        tag = marker["obstack.marker"]
        logs = logs_request(self.tenant, self.rng, LOG_RECORDS, marker)
        metrics = metrics_request(self.tenant, self.rng, METRIC_SERIES, marker)
        # a fresh trace id: a seeded one would repeat the previous run's on a long-lived platform
        trace_id = uuid.uuid4().bytes
        traces = traces_request(self.tenant, self.rng, TRACE_SPANS, marker, trace_id=trace_id)

        if self._send("logs", logs, otlp.PROTOBUF, gzip=True):
            self._expect(
                "/api/v1/logs/search", "records", LOG_RECORDS,
                params={"attr": f"obstack.marker={tag}", "limit": 100, "range": "1h"},
            )  # fmt: skip
        if self._send("metrics", metrics, otlp.JSON, gzip=True):
            self._expect(
                "/api/v1/metrics/query", "series", METRIC_SERIES,
                params={"name": "system.cpu.utilization", "match": f"obstack.marker={tag}", "range": "1h"},
            )  # fmt: skip
        if self._send("traces", traces, otlp.PROTOBUF, gzip=False):
            self._expect(
                f"/api/v1/traces/{trace_id.hex()}", "spans", TRACE_SPANS, name="/api/v1/traces/[id]"
            )

    def _expect(self, path: str, key: str, count: int, name: str | None = None, **kwargs) -> None:
        """Read back and check we got exactly what we sent: no more, no fewer."""

        def check(answer) -> str | None:
            found = answer.get(key)
            if not isinstance(found, list):
                return f"answer has no {key!r} list"
            if len(found) != count:
                return f"expected {count} {key}, found {len(found)}"
            return None

        self.session.get(path, name=name, check=check, **kwargs)

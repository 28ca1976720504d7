"""OTLP logs ingestion with today's builders: a fresh 100-record batch per request, protobuf + gzip,
accounted per tenant, through the suite's own OTLP client (for items/s per worker core)."""

from locust import FastHttpUser, task

import obstack_load.results.plugin  # noqa: F401
from obstack_load.telemetry import builders
from obstack_load.users.otlp_client import export
from obstack_load.users.tenancy import assign

BATCH = 100


class LogsBatchUser(FastHttpUser):
    def on_start(self) -> None:
        self.tenant, self.rng = assign(self.environment)

    @task
    def send(self) -> None:
        message = builders.logs_request(self.tenant, self.rng, BATCH)
        export(
            self.client,
            "logs",
            message,
            tenant_id=self.tenant.tenant_id,
            api_key=self.tenant.api_key,
        )

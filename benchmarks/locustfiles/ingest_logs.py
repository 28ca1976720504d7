"""OTLP logs ingestion with a fresh 100-record batch per request from the logs generator,
protobuf + gzip, accounted per tenant, through the suite's own OTLP client (for items/s per
worker core)."""

from locust import FastHttpUser, task

import obstack_load.results.plugin  # noqa: F401
from obstack_load.telemetry.clock import Clock, TimestampSettings
from obstack_load.telemetry.fleet import Fleet
from obstack_load.telemetry.logs import LogsGenerator
from obstack_load.users.otlp_client import export
from obstack_load.users.tenancy import assign

BATCH = 100


class LogsBatchUser(FastHttpUser):
    def on_start(self) -> None:
        self.tenant, self.rng = assign(self.environment)
        fleet = Fleet(self.rng, namespace=self.tenant.tenant_id)
        self.generator = LogsGenerator(fleet, self.rng, Clock(TimestampSettings(), self.rng))

    @task
    def send(self) -> None:
        export(
            self.client,
            "logs",
            self.generator.batch(BATCH),
            tenant_id=self.tenant.tenant_id,
            api_key=self.tenant.api_key,
        )

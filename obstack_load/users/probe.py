"""A minimal probe: one unauthenticated GET of the health endpoint per iteration.

The cheapest possible request, for measuring the generator, the arrival-rate scheduler and the
platform's raw capacity; and the user the CI and arrival-rate tests drive.
"""

from __future__ import annotations

from locust import FastHttpUser, constant, task

from obstack_load.run import arrival


class HealthProbeUser(FastHttpUser):
    wait_time = arrival.wait_time(constant(0.1))

    def on_start(self) -> None:
        arrival.start_on_schedule(self)

    def context(self) -> dict:
        return arrival.context(self)

    @task
    def probe(self) -> None:
        self.client.get("/healthz", name="/healthz")

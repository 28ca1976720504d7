"""A generator that is its own bottleneck: each user spins the CPU between cheap requests, so
the results plugin must flag the run generator-bound."""

import time

from locust import FastHttpUser, constant, task

import obstack_load.results.plugin  # noqa: F401
import obstack_load.thresholds.plugin  # noqa: F401


class BusyUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def spin_then_probe(self) -> None:
        deadline = time.perf_counter() + 0.2
        while time.perf_counter() < deadline:  # holds the one core Locust's greenlets share
            pass
        self.client.get("/healthz")

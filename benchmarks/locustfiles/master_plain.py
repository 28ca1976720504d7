"""Plain Locust for benchmarks/master_cost.py: one GET per user every 200 ms, nothing of ours
but the report clock."""

from locust import FastHttpUser, constant_throughput, task

import benchmarks.locustfiles.report_clock  # noqa: F401


class PacedGet(FastHttpUser):
    wait_time = constant_throughput(5)

    @task
    def get(self) -> None:
        self.client.get("/")

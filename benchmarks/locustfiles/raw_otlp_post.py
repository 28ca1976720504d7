"""Baseline: raw Locust FastHttpUser posting one constant, pre-serialised OTLP body (no plugins)."""

import os
from pathlib import Path

from locust import FastHttpUser, task


class RawOtlpPost(FastHttpUser):
    body = Path(os.environ["OBSTACK_BENCH_BODY"]).read_bytes()
    path = os.environ.get("OBSTACK_BENCH_PATH", "/v1/logs")
    # the same headers the suite sends: content type, compression and the tenant's key
    headers = {
        "Content-Type": "application/x-protobuf",
        "Content-Encoding": "gzip",
        "Authorization": "Bearer " + os.environ.get("OBSTACK_BENCH_KEY", "benchmark-key"),
    }

    @task
    def post(self) -> None:
        self.client.post(self.path, data=self.body, headers=self.headers)

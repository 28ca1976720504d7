"""Notes when each worker report reaches the master, and writes the times at quit to the file
in ``OBSTACK_BENCH_REPORTS``: ``benchmarks/master_cost.py`` counts the reports inside its CPU
window. One list append per report: nothing a benchmark of the master's cost would see."""

from __future__ import annotations

import json
import os
import time

from locust import events

_times: list[float] = []


@events.init.add_listener
def _count(environment, **kwargs) -> None:
    environment.events.worker_report.add_listener(
        lambda client_id, data: _times.append(time.time())
    )


@events.quitting.add_listener
def _dump(environment, **kwargs) -> None:
    path = os.environ.get("OBSTACK_BENCH_REPORTS")
    if path and _times:
        with open(path, "w") as out:
            json.dump(_times, out)

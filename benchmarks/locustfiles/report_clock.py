"""Notes when each worker report reaches the master, and what handling it cost the master, and
writes both at quit to the file in ``OBSTACK_BENCH_REPORTS``: ``benchmarks/master_cost.py``
counts the reports inside its CPU window, and adds up the handling.

The handling of a report is the CPU time of this thread spent unpacking the message
(``Message.unserialize``) and running the ``worker_report`` listeners: Locust's own stats merge,
and every plugin's. Both are plain calls that never yield to another greenlet, so the thread's
CPU clock around them counts them alone. Two clock readings and one list append per report:
nothing the whole-process figure would see."""

from __future__ import annotations

import json
import os
import time

from locust import events
from locust.rpc import protocol
from locust.runners import MasterRunner

_times: list[float] = []
_handling: list[float] = []  # thread CPU seconds per report: unpack + listeners
_unpacked: list[float] = [0.0]  # the last stats message's unpacking time


def _time_unpacking() -> None:
    unserialize = protocol.Message.unserialize.__func__

    def timed(cls, data):
        start = time.thread_time()
        message = unserialize(cls, data)
        if message.type == "stats":
            _unpacked[0] = time.thread_time() - start
        return message

    protocol.Message.unserialize = classmethod(timed)


def _time_listeners(environment) -> None:
    hook = environment.events.worker_report
    fire = hook.fire

    def timed(**kwargs):
        start = time.thread_time()
        fire(**kwargs)
        _handling.append(_unpacked[0] + time.thread_time() - start)
        _times.append(time.time())

    hook.fire = timed


@events.init.add_listener
def _count(environment, runner=None, **kwargs) -> None:
    if isinstance(runner, MasterRunner):
        _time_unpacking()
        _time_listeners(environment)


@events.quitting.add_listener
def _dump(environment, **kwargs) -> None:
    path = os.environ.get("OBSTACK_BENCH_REPORTS")
    if path and _times:
        with open(path, "w") as out:
            json.dump({"times": _times, "handling": _handling}, out)

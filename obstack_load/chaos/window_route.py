"""The load's figures over a window, for Chaos Toolkit's own ``chaos run``: a route on the
suite's Locust web UI, ``GET /obstack/window?seconds=S&since=T``, answers the requests,
failures and a latency percentile (``percentile=0.95``) of the last S seconds, never reaching back past T (unix s):
the last fault change the experiment's actions made. Locust's own ``/stats/requests`` has only
a fixed 10 s "current" window, which still holds the outage's requests after a fault is taken
off; this is the window the attached run's probes use (``chaos/live.py``), served.

The snapshots (one a second, the last ``KEEP_S``) start with the first request to the route:
the control that starts the load for ``chaos run`` asks once before its warm-up, so runs that
never serve it pay nothing."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import gevent
from flask import jsonify, request
from locust import events
from locust.runners import WorkerRunner

from obstack_load.figures import window

ROUTE = "/obstack/window"
KEEP_S = 180
SNAPSHOT_EVERY_S = 1.0


class Windows:
    """The snapshots one Locust web UI serves its windows from."""

    def __init__(self, environment) -> None:
        self.environment = environment
        self.snapshots: deque = deque(maxlen=int(KEEP_S / SNAPSHOT_EVERY_S))
        self.greenlet: gevent.Greenlet | None = None

    def keep(self) -> None:
        while True:
            self.snapshots.append((time.time(), window.take(self.environment, {}, None)))
            gevent.sleep(SNAPSHOT_EVERY_S)

    def figures(self, seconds: float, since: float, percentile: float) -> dict[str, Any]:
        if self.greenlet is None:
            self.greenlet = gevent.spawn(self.keep)
        now = time.time()
        latest = window.take(self.environment, {}, None)
        begin = max(now - seconds, since)
        start = next((snap for at, snap in self.snapshots if at >= begin), latest)
        total = window.window_stats(start, latest, corrected=False).total
        return {
            "seconds": latest.at - start.at,
            "requests": total.num_requests,
            "failures": total.num_failures,
            "percentile": percentile,
            "percentile_ms": float(total.get_response_time_percentile(percentile))
            if total.num_requests else None,
        }  # fmt: skip


@events.init.add_listener
def _route(environment, **kwargs: Any) -> None:
    web_ui = environment.web_ui
    if web_ui is None or isinstance(environment.runner, WorkerRunner):
        return
    windows = Windows(environment)

    @web_ui.app.route(ROUTE)
    @web_ui.auth_required_if_enabled
    def load_window():
        try:
            seconds = float(request.args.get("seconds", "10"))
            since = float(request.args.get("since", "0"))
            percentile = float(request.args.get("percentile", "0.95"))
        except ValueError:
            return jsonify({"error": "seconds, since and percentile are numbers"}), 400
        return jsonify(windows.figures(seconds, since, percentile))

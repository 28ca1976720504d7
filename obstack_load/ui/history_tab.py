"""A "History" tab in Locust's web UI, and the dashboard's pages under ``/history`` on its app.

The tab lists the latest runs in the results database (``--results-db``), each with the path of
its report; the pages (``obstack_load.ui.dashboard``) hold the rest: runs over time, comparisons,
trends and test suites. Both only read the database, and sit behind Locust's login when
``--web-login`` is on.
"""

from __future__ import annotations

import time
from typing import Any

from locust import events
from locust.runners import WorkerRunner

from obstack_load.analysis import history, series
from obstack_load.results.store import open_for_reading
from obstack_load.ui.tabs import add_table_tab

TAB_KEY = "history"
PREFIX = "/history"
LATEST = 20
REFRESH_S = 5.0  # the page polls every 2 s; the database need not be read as often
COLUMNS = (
    ("started", "Started (UTC)"),
    ("label", "Label / profile"),
    ("status", "Status"),
    ("exit_code", "Exit"),
    ("thresholds", "Thresholds"),
    ("requests", "Requests"),
    ("p95_ms", "p95 ms"),
    ("report", "Report"),
)


class LatestRuns:
    """The tab's rows, read at most every ``REFRESH_S`` seconds."""

    def __init__(self, environment) -> None:
        self.environment = environment
        self.read_at = 0.0
        self.rows: list[dict[str, Any]] = []

    def target(self) -> str | None:
        return getattr(self.environment.parsed_options, "results_db", None)

    def __call__(self) -> list[dict[str, Any]]:
        if time.monotonic() - self.read_at < REFRESH_S:
            return self.rows
        try:
            store = open_for_reading(self.target())
            try:
                runs = history.load_runs(store, series.HistoryFilter(limit=LATEST))
            finally:
                store.close()
        except Exception as exc:  # the tab says why, and asks again at the next poll
            return [{"started": "-", "label": f"results database unavailable: {exc}"}]
        self.read_at = time.monotonic()
        self.rows = [
            {
                "started": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["started_at"] or 0)),
                "label": f"{r['label'] or '-'} / {r['profile'] or '-'}",
                "status": r["status"],
                "exit_code": "-" if r["exit_code"] is None else r["exit_code"],
                "thresholds": r["thresholds_verdict"] or "-",
                "requests": r["total_requests"] or 0,
                "p95_ms": "-" if r["p95_ms"] is None else r["p95_ms"],
                "report": f"{PREFIX}/run/{r['run_id']}",
            }
            for r in reversed(runs)
        ]
        return self.rows


@events.init.add_listener
def _extend(environment, **kwargs: Any) -> None:
    web_ui = environment.web_ui
    if web_ui is None or isinstance(environment.runner, WorkerRunner):
        return
    # Here, not at the top: the pages bring scipy, matplotlib and ruptures (about 1.7 s of
    # imports), which a headless run or a worker never serves
    from obstack_load.ui.dashboard import make_blueprint

    latest = LatestRuns(environment)

    def open_store():
        return open_for_reading(latest.target())

    web_ui.app.register_blueprint(
        make_blueprint(open_store, web_ui.auth_required_if_enabled), url_prefix=PREFIX
    )
    add_table_tab(web_ui, TAB_KEY, "History", COLUMNS, latest)

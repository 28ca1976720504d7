"""An "Ingestion" tab in Locust's web UI: the ingestion ledger, per signal, live during the run.

It uses Locust's own extension points, as its ``extend_web_ui`` example does: an extended tab and
table declared in the page's template arguments, and rows added to the ``/stats/requests`` answer
the page polls. On the master the ledger holds every worker's counts (merged from their reports).
"""

from __future__ import annotations

import json
from typing import Any

from locust import events

from obstack_load.accounting import signal_figures

TAB_KEY = "ingestion"
COLUMNS = (
    ("signal", "Signal"),
    ("sent_requests", "Requests"),
    ("sent_items", "Items sent"),
    ("accepted_items", "Accepted"),
    ("accepted_items_per_s", "Accepted/s"),
    ("rejected_items", "Rejected"),
    ("throttled_items", "Throttled"),
    ("failed_items", "Failed"),
    ("retries", "Retries"),
    ("lost_items", "Lost"),
    ("sent_wire_bytes", "Bytes on the wire"),
    ("compression_ratio", "Compression (raw/wire)"),
    ("verify_missing_items", "Not visible"),
)


def rows(environment) -> list[dict[str, Any]]:
    return [
        {"signal": signal, **{key: figures[key] for key, _ in COLUMNS[1:]}}
        for signal, figures in signal_figures(environment.stats).items()
    ]


@events.init.add_listener
def _extend(environment, **kwargs: Any) -> None:
    web_ui = environment.web_ui
    if web_ui is None:
        return
    from flask import request

    args = web_ui.template_args
    args["extended_tabs"] = [
        *[t for t in args.get("extended_tabs") or [] if t.get("key") != TAB_KEY],
        {"title": "Ingestion", "key": TAB_KEY},
    ]
    args["extended_tables"] = [
        *[t for t in args.get("extended_tables") or [] if t.get("key") != TAB_KEY],
        {"key": TAB_KEY, "structure": [{"key": key, "title": title} for key, title in COLUMNS]},
    ]

    @web_ui.app.after_request
    def _add_rows(response):
        if request.path != "/stats/requests" or response.status_code != 200:
            return response
        data = response.get_json(silent=True)
        if not isinstance(data, dict):
            return response
        # Locust may hand back a cached answer: replace our entry rather than add another
        others = [e for e in data.get("extended_stats") or [] if e.get("key") != TAB_KEY]
        data["extended_stats"] = [*others, {"key": TAB_KEY, "data": rows(environment)}]
        response.set_data(json.dumps(data))
        return response

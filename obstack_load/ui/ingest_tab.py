"""An "Ingestion" tab in Locust's web UI: the ingestion ledger, per signal, live during the run.

A table tab (``web_tabs``). On the master the ledger holds every worker's counts (merged from
their reports).
"""

from __future__ import annotations

from typing import Any

from locust import events

from obstack_load.run.accounting import signal_figures
from obstack_load.run.context import run_of
from obstack_load.ui.tabs import add_table_tab

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
        for signal, figures in signal_figures(environment.stats, run_of(environment).ledger).items()
    ]


@events.init.add_listener
def _extend(environment, **kwargs: Any) -> None:
    if environment.web_ui is not None:
        add_table_tab(environment.web_ui, TAB_KEY, "Ingestion", COLUMNS, lambda: rows(environment))

"""Tabs of tables in Locust's web UI, through Locust's own extension points (as its
``extend_web_ui`` example does): an extended tab and table declared in the page's template
arguments, and rows added to the ``/stats/requests`` answer that the page polls."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def add_table_tab(
    web_ui: Any,
    key: str,
    title: str,
    columns: tuple[tuple[str, str], ...],
    rows: Callable[[], list[dict[str, Any]]],
) -> None:
    """A tab named ``title`` showing ``rows()`` under ``columns`` ((key, heading) pairs)."""
    from flask import request

    args = web_ui.template_args
    args["extended_tabs"] = [
        *[t for t in args.get("extended_tabs") or [] if t.get("key") != key],
        {"title": title, "key": key},
    ]
    args["extended_tables"] = [
        *[t for t in args.get("extended_tables") or [] if t.get("key") != key],
        {"key": key, "structure": [{"key": k, "title": heading} for k, heading in columns]},
    ]

    @web_ui.app.after_request
    def _add_rows(response):
        if request.path != "/stats/requests" or response.status_code != 200:
            return response
        data = response.get_json(silent=True)
        if not isinstance(data, dict):
            return response
        # Locust may hand back a cached answer: replace our entry rather than add another
        others = [e for e in data.get("extended_stats") or [] if e.get("key") != key]
        data["extended_stats"] = [*others, {"key": key, "data": rows()}]
        response.set_data(json.dumps(data))
        return response

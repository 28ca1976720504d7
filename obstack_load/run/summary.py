"""End-of-run summary: a table on stdout and, with ``--summary-json PATH``, the same as JSON.

It is computed where Locust's merged stats live: the master, or the single standalone process.
Percentiles come from Locust's own histograms, so they match its report exactly. This module
writes the requests part; every other plugin adds its own section, and its own lines, when
``suite.summary_assembling`` fires (see ``obstack_load.run.events``).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from locust.env import Environment
from locust.stats import StatsEntry, StatsError

from obstack_load import __version__
from obstack_load.core.histogram import PERCENTILES
from obstack_load.run.context import RunContext, run_of
from obstack_load.run.endings import join
from obstack_load.run.events import suite

logger = logging.getLogger(__name__)


def entry_summary(entry: StatsEntry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "method": entry.method,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "rps": round(entry.total_rps, 3),
        "avg_ms": round(entry.avg_response_time, 3),
        "min_ms": entry.min_response_time or 0,
        "max_ms": entry.max_response_time,
        **{
            f"p{round(p * 100)}_ms": entry.get_response_time_percentile(p)
            if entry.num_requests
            else None
            for p in PERCENTILES
        },
    }


def build_summary(environment: Environment, exit_code: int | None = None) -> dict[str, Any]:
    """The requests part of the summary, before the plugins add their sections."""
    stats = environment.stats
    options = environment.parsed_options
    return {
        "suite_version": __version__,
        "host": environment.host,
        "finished_at": time.time(),
        "locustfile": getattr(options, "locustfile", None),
        "totals": entry_summary(stats.total),
        "requests": [
            entry_summary(e)
            for e in sorted(stats.entries.values(), key=lambda e: (e.name, e.method))
        ],
        "errors": [
            {
                "method": e.method,
                "name": e.name,
                "error": StatsError.parse_error(e.error),
                "occurrences": e.occurrences,
            }
            for e in stats.errors.values()
        ],
        "exit_code": exit_code,
    }


def result_locations(environment: Environment) -> list[str]:
    options = environment.parsed_options
    places = []
    for label, attr in (
        ("HTML report", "html_file"),
        ("CSV stats", "csv_prefix"),
        ("summary JSON", "summary_json"),
    ):
        value = getattr(options, attr, None)
        if value:
            places.append(f"{label}: {value}{'_stats.csv' if attr == 'csv_prefix' else ''}")
    return places


def header_lines(summary: dict[str, Any]) -> list[str]:
    totals = summary["totals"]
    return [
        "",
        "obstack-load summary",
        # the first lines of trouble: a fault left in place, a plugin that failed
        *(f"  !! {line}" for line in summary.get("trouble", [])),
        f"  target {summary['host']}: {totals['requests']} requests, {totals['failures']} failures, "
        f"{totals['rps']:.1f} req/s, p50 {totals['p50_ms']} ms, p95 {totals['p95_ms']} ms, p99 {totals['p99_ms']} ms",
        f"  exit code {summary['exit_code']}",
    ]


def assemble(environment: Environment, exit_code: int) -> tuple[dict[str, Any], list[str]]:
    """The whole summary and its printed lines: ours, then every plugin's section."""
    summary = build_summary(environment, exit_code)
    ending = run_of(environment).ending
    summary["status"] = ending.status
    summary["trouble"] = [*ending.faults_left, *ending.plugin_failures]
    lines = header_lines(summary)
    suite.summary_assembling.fire(
        environment=environment, exit_code=exit_code, summary=summary, lines=lines
    )
    return summary, lines


@join("summarise")
def print_summary(environment: Environment, run: RunContext) -> None:
    """The last thing shown: after Locust's own tables at quit, or when the web UI's Stop ends
    a run. A broken summary must never change the run's exit code, so it only logs."""
    try:
        summary, lines = assemble(environment, run.ending.exit_code or 0)
        print("\n".join(lines), flush=True)
        path = getattr(environment.parsed_options, "summary_json", None)
        if path:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            # whole or not at all: a CI step (or a test) that polls for the file never reads
            # half of it
            partial = target.with_name(f".{target.name}.partial")
            partial.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
            os.replace(partial, target)
        for place in result_locations(environment):
            print(f"  results -> {place}", flush=True)
    except Exception:
        logger.exception("obstack-load: could not write the run summary")

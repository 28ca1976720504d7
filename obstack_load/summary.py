"""End-of-run summary: a table on stdout and, with ``--summary-json PATH``, the same as JSON.

It is computed where Locust's merged stats live: the master, or the single standalone process.
Percentiles come from Locust's own histograms, so they match its report exactly.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import StatsEntry, StatsError

from obstack_load import __version__, arrival
from obstack_load.accounting import ledger

logger = logging.getLogger(__name__)
PERCENTILES = (0.5, 0.9, 0.95, 0.99)

# Other plugins (results, thresholds) add a section to the summary: called once at quit with the
# exit code, each returns a dict merged into the summary.
contributors: list[Callable[[int], dict[str, Any]]] = []


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


def signal_figures(stats) -> dict[str, dict[str, Any]]:
    """Per signal: the ledger's counts, plus accepted items/s over the run so far and the gzip
    ratio (raw bytes over bytes on the wire). The summary and the web UI's tab both show these."""
    elapsed = max((stats.total.last_request_timestamp or 0) - stats.total.start_time, 1e-9)
    out = {}
    for signal, counts in sorted(ledger.by_signal().items()):
        figures = asdict(counts)
        figures["accepted_items_per_s"] = round(counts.accepted_items / elapsed, 1)
        wire = counts.sent_wire_bytes
        figures["compression_ratio"] = round(counts.sent_raw_bytes / wire, 2) if wire else None
        out[signal] = figures
    return out


def ingest_summary(stats) -> dict[str, Any]:
    """The ledger's counts per signal (with ``signal_figures``) and per signal and tenant."""
    return {
        "by_signal": signal_figures(stats),
        "by_signal_and_tenant": ledger.by_signal_and_tenant(),
    }


def verify_summary(stats) -> dict[str, Any]:
    """Ingest-then-verify per signal: loss ratio and write-to-visible latency percentiles."""
    out: dict[str, Any] = {}
    for signal, counts in ledger.by_signal().items():
        if not counts.verify_items:
            continue
        entry = stats.get(f"{signal} visible", "VERIFY")
        latency = entry_summary(entry)
        out[signal] = {
            "batches": entry.num_requests,
            "batches_not_visible": entry.num_failures,
            "items": counts.verify_items,
            "visible_items": counts.verify_visible_items,
            "missing_items": counts.verify_missing_items,
            "loss_ratio": round(counts.verify_missing_items / counts.verify_items, 6),
            **{k: latency[k] for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")},
        }
    return out


def build_summary(environment: Environment, exit_code: int | None = None) -> dict[str, Any]:
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
        "ingest": ingest_summary(stats),
        "verify": verify_summary(stats),
        "arrival": arrival.run_summary(),
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


def format_summary(summary: dict[str, Any]) -> str:
    totals = summary["totals"]
    lines = [
        "",
        "obstack-load summary",
        f"  target {summary['host']}: {totals['requests']} requests, {totals['failures']} failures, "
        f"{totals['rps']:.1f} req/s, p50 {totals['p50_ms']} ms, p95 {totals['p95_ms']} ms, p99 {totals['p99_ms']} ms",
        f"  exit code {summary['exit_code']}",
    ]
    arrival_figures = summary.get("arrival")
    if arrival_figures:
        corrected = arrival_figures["corrected_total"]
        lines.append(
            f"  arrival-rate: {arrival_figures['iterations']} iterations, {arrival_figures['late_iterations']} late, "
            f"{arrival_figures['dropped_iterations']} dropped; corrected for coordinated omission: "
            f"p50 {corrected['p50_ms']} ms, p95 {corrected['p95_ms']} ms, p99 {corrected['p99_ms']} ms"
        )
    thresholds = summary.get("thresholds")
    if thresholds:
        passed = sum(r["passed"] for r in thresholds["results"])
        lines.append(
            f"  thresholds {thresholds['verdict'].upper()}: {passed}/{len(thresholds['results'])} passed"
        )
    results = summary.get("results")
    if results:
        lines.append(f"  results database {results['results_db']}: run {results['run_id']}")
        if results["dropped_rows"]:
            lines.append(
                f"  !! {results['dropped_rows']} raw request rows were DROPPED (results buffer full)"
            )
        if results["rows_not_written"]:
            lines.append(
                f"  !! {results['rows_not_written']} rows could NOT be written to the results database"
            )
        if results.get("missing_workers"):
            lines.append(
                f"  !! worker(s) went missing during the run: {', '.join(results['missing_workers'])}"
            )
        if results["generator_bound"]:
            lines.append(
                "  !! generator-bound: a load generator stayed CPU-saturated; latencies measure the generator"
            )
    for signal, counts in summary["ingest"]["by_signal"].items():
        lines.append(
            f"  {signal:<8} sent {counts['sent_items']} items in {counts['sent_requests']} requests "
            f"({counts['retries']} retries): accepted {counts['accepted_items']} "
            f"({counts['accepted_items_per_s']:,.0f}/s), rejected {counts['rejected_items']}, "
            f"throttled {counts['throttled_items']}, failed {counts['failed_items']}; "
            f"{counts['sent_raw_bytes']} bytes raw, {counts['sent_wire_bytes']} on the wire"
        )
        if counts["lost_batches"]:
            lines.append(
                f"  !! {signal}: {counts['lost_batches']} batches ({counts['lost_items']} items) were LOST "
                "after their last retry"
            )
        if counts["skipped_batches"]:
            lines.append(
                f"  !! {signal}: {counts['skipped_batches']} batches skipped: the generator fell behind --otlp-rate"
            )
    for signal, figures in summary.get("verify", {}).items():
        lines.append(
            f"  verify {signal}: {figures['visible_items']}/{figures['items']} items visible, loss ratio "
            f"{figures['loss_ratio']:.4%}; write-to-visible p50 {figures['p50_ms']} ms, "
            f"p95 {figures['p95_ms']} ms, p99 {figures['p99_ms']} ms"
        )
    return "\n".join(lines)


_environments: list[Environment] = []


@events.init.add_listener
def _remember(environment: Environment, **kwargs: Any) -> None:
    _environments[:] = [environment]


@events.quit.add_listener
def _on_quit(exit_code: int, **kwargs: Any) -> None:
    """Runs after Locust has printed its own tables, so the summary is the last thing shown."""
    if not _environments or isinstance(_environments[0].runner, WorkerRunner):
        return
    environment = _environments[0]
    try:
        summary = build_summary(environment, exit_code)
        for contribute in contributors:
            try:
                summary.update(contribute(exit_code))
            except Exception:
                logger.exception("obstack-load: a summary section failed")
        print(format_summary(summary), flush=True)
        path = getattr(environment.parsed_options, "summary_json", None)
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        for place in result_locations(environment):
            print(f"  results -> {place}", flush=True)
    except Exception:  # a broken summary must never change the run's exit code
        logger.exception("obstack-load: could not write the run summary")

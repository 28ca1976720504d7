"""Exact ingestion accounting for the run: the run's ledger (``RunContext.ledger``), the
listeners that add the workers' counts up on the master, and the summary's ingest sections.

Listeners only add to in-memory counters. In distributed mode each worker ships what it counted
since its last report to the master (``report_to_master``), which adds it up (``worker_report``),
so the master's totals are the sum of the workers'.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from locust import events

from obstack_load.core.ledger import IngestCounts, IngestLedger
from obstack_load.run.context import run_of
from obstack_load.run.events import suite

REPORT_KEY = "obstack_ingest"

__all__ = ["IngestCounts", "IngestLedger", "signal_figures"]


def signal_figures(stats, ledger: IngestLedger) -> dict[str, dict[str, Any]]:
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


def verify_figures(stats, ledger: IngestLedger) -> dict[str, Any]:
    """Ingest-then-verify per signal: loss ratio and write-to-visible latency percentiles."""
    out: dict[str, Any] = {}
    for signal, counts in ledger.by_signal().items():
        if not counts.verify_items:
            continue
        entry = stats.get(f"{signal} visible", "VERIFY")
        out[signal] = {
            "batches": entry.num_requests,
            "batches_not_visible": entry.num_failures,
            "items": counts.verify_items,
            "visible_items": counts.verify_visible_items,
            "missing_items": counts.verify_missing_items,
            "loss_ratio": round(counts.verify_missing_items / counts.verify_items, 6),
            **{
                f"p{round(p * 100)}_ms": entry.get_response_time_percentile(p)
                if entry.num_requests
                else None
                for p in (0.5, 0.95, 0.99)
            },
            "max_ms": entry.max_response_time,
        }
    return out


def ingest_lines(by_signal: dict[str, dict[str, Any]], verify: dict[str, Any]) -> list[str]:
    lines = []
    for signal, counts in by_signal.items():
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
    for signal, figures in verify.items():
        lines.append(
            f"  verify {signal}: {figures['visible_items']}/{figures['items']} items visible, loss ratio "
            f"{figures['loss_ratio']:.4%}; write-to-visible p50 {figures['p50_ms']} ms, "
            f"p95 {figures['p95_ms']} ms, p99 {figures['p99_ms']} ms"
        )
    return lines


@suite.summary_assembling.add_listener
def _summary(environment, summary: dict, lines: list[str], **kwargs: Any) -> None:
    ledger = run_of(environment).ledger
    summary["ingest"] = {
        "by_signal": signal_figures(environment.stats, ledger),
        "by_signal_and_tenant": ledger.by_signal_and_tenant(),
    }
    summary["verify"] = verify_figures(environment.stats, ledger)
    lines.extend(ingest_lines(summary["ingest"]["by_signal"], summary["verify"]))


@events.init.add_listener
def _wire(environment, **kwargs: Any) -> None:
    """Workers ship the counts of the run they are in; the master adds them to its run's."""

    def ship(client_id: str, data: dict) -> None:
        data[REPORT_KEY] = run_of(environment).ledger.take_unreported()

    def merge(client_id: str, data: dict) -> None:
        run_of(environment).ledger.merge(data.get(REPORT_KEY, []))

    environment.events.report_to_master.add_listener(ship)
    environment.events.worker_report.add_listener(merge)

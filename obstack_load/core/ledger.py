"""The ingestion ledger's types: items and bytes per signal and tenant, as sent and as answered
(accepted, rejected, throttled, failed), plus batches lost after their last retry.

Plain data, free of Locust: the results schema and the platform-side tools read these types
without importing the load generator. ``accounting`` holds the run's ledger and its listeners.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

OUTCOMES = ("sent", "accepted", "rejected", "throttled", "failed")
MEASURES = ("requests", "items", "raw_bytes", "wire_bytes")


@dataclass
class IngestCounts:
    """One signal's (and tenant's) counts. Every HTTP attempt is *sent* and then exactly one of
    *accepted* (2xx; a partial success's refused items move to rejected), *rejected* (a 4xx other
    than 429: never retried), *throttled* (429) or *failed* (502/503/504, connection errors), so
    ``sent_x == accepted_x + rejected_x + throttled_x + failed_x`` for every measure. A *batch*
    may take several attempts; a *lost* batch is one given up on after its last retry."""

    batches: int = 0
    retries: int = 0
    lost_batches: int = 0
    lost_items: int = 0
    skipped_batches: int = 0  # a paced user fell over a second behind its rate and skipped these
    sent_requests: int = 0
    sent_items: int = 0
    sent_raw_bytes: int = 0
    sent_wire_bytes: int = 0
    accepted_requests: int = 0
    accepted_items: int = 0
    accepted_raw_bytes: int = 0
    accepted_wire_bytes: int = 0
    rejected_requests: int = 0
    rejected_items: int = 0
    rejected_raw_bytes: int = 0
    rejected_wire_bytes: int = 0
    throttled_requests: int = 0
    throttled_items: int = 0
    throttled_raw_bytes: int = 0
    throttled_wire_bytes: int = 0
    failed_requests: int = 0
    failed_items: int = 0
    failed_raw_bytes: int = 0
    failed_wire_bytes: int = 0
    # ingest-then-verify: tagged items written, then found (or not) through the query API
    verify_items: int = 0
    verify_visible_items: int = 0
    verify_missing_items: int = 0

    def add(self, other: IngestCounts) -> None:
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)


class IngestLedger:
    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], IngestCounts] = defaultdict(IngestCounts)
        self._shipped: dict[tuple[str, str], dict[str, int]] = {}  # what was reported so far

    def record(self, signal: str, tenant_id: str, **deltas: int) -> None:
        entry = self.counts[(signal, tenant_id)]
        for key, value in deltas.items():
            setattr(entry, key, getattr(entry, key) + value)

    def attempt(
        self,
        signal: str,
        tenant_id: str,
        outcome: str,
        items: int,
        raw_bytes: int,
        wire_bytes: int,
        rejected_items: int = 0,
        next_step: str = "settled",
    ) -> None:
        """One HTTP attempt's answer; ``next_step`` is settled, retry or lost (given up).

        Written out by hand, as one call: it runs for every request the ingestion users send.
        """
        entry = self.counts[(signal, tenant_id)]
        # one entry only: a worker's reports to the master are differences (take_unreported)
        entry.sent_requests += 1
        entry.sent_items += items
        entry.sent_raw_bytes += raw_bytes
        entry.sent_wire_bytes += wire_bytes
        if outcome == "accepted":
            entry.accepted_requests += 1
            entry.accepted_items += items - rejected_items
            entry.rejected_items += rejected_items
            entry.accepted_raw_bytes += raw_bytes
            entry.accepted_wire_bytes += wire_bytes
        else:
            setattr(entry, f"{outcome}_requests", getattr(entry, f"{outcome}_requests") + 1)
            setattr(entry, f"{outcome}_items", getattr(entry, f"{outcome}_items") + items)
            setattr(
                entry,
                f"{outcome}_raw_bytes",
                getattr(entry, f"{outcome}_raw_bytes") + raw_bytes,
            )
            setattr(
                entry,
                f"{outcome}_wire_bytes",
                getattr(entry, f"{outcome}_wire_bytes") + wire_bytes,
            )
        if next_step == "retry":
            entry.retries += 1
        else:
            entry.batches += 1
            if next_step == "lost":
                entry.lost_batches += 1
                entry.lost_items += items

    def take_unreported(self) -> list[list]:
        """What changed since the last call, for a worker's report to the master."""
        out = []
        for key, counts in self.counts.items():
            now = asdict(counts)
            before = self._shipped.get(key)
            delta = {k: v - before[k] for k, v in now.items()} if before else now
            if any(delta.values()):
                out.append([*key, delta])
                self._shipped[key] = now
        return out

    def merge(self, rows: list[list]) -> None:
        for signal, tenant, values in rows:
            self.counts[(signal, tenant)].add(IngestCounts(**values))

    def by_signal(self) -> dict[str, IngestCounts]:
        totals: dict[str, IngestCounts] = defaultdict(IngestCounts)
        for (signal, _), counts in self.counts.items():
            totals[signal].add(counts)
        return dict(totals)

    def by_signal_and_tenant(self) -> dict[str, dict[str, dict[str, int]]]:
        return {
            s: {t: asdict(c) for (s2, t), c in sorted(self.counts.items()) if s2 == s}
            for s in sorted({s for s, _ in self.counts})
        }

    def reset(self) -> None:
        self.counts.clear()
        self._shipped.clear()

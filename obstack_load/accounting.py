"""Exact ingestion accounting: items and bytes per signal and tenant, as sent and as answered.

Listeners only add to in-memory counters. In distributed mode each worker ships what it counted
since its last report to the master (``report_to_master``), which adds it up (``worker_report``),
so the master's totals are the sum of the workers'.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

from locust import events

REPORT_KEY = "obstack_ingest"


@dataclass
class IngestCounts:
    requests: int = 0
    sent_items: int = 0
    accepted_items: int = 0
    rejected_items: int = 0
    throttled_requests: int = 0
    failed_requests: int = 0
    raw_bytes: int = 0
    wire_bytes: int = 0

    def add(self, other: IngestCounts) -> None:
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)


class IngestLedger:
    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], IngestCounts] = defaultdict(IngestCounts)
        self._unreported: dict[tuple[str, str], IngestCounts] = defaultdict(IngestCounts)

    def record(self, signal: str, tenant_id: str, **deltas: int) -> None:
        for table in (self.counts, self._unreported):
            entry = table[(signal, tenant_id)]
            for key, value in deltas.items():
                setattr(entry, key, getattr(entry, key) + value)

    def take_unreported(self) -> list[list]:
        out = [[signal, tenant, asdict(c)] for (signal, tenant), c in self._unreported.items()]
        self._unreported.clear()
        return out

    def merge(self, rows: list[list]) -> None:
        for signal, tenant, values in rows:
            self.counts[(signal, tenant)].add(IngestCounts(**values))

    def by_signal(self) -> dict[str, IngestCounts]:
        totals: dict[str, IngestCounts] = defaultdict(IngestCounts)
        for (signal, _), counts in self.counts.items():
            totals[signal].add(counts)
        return dict(totals)

    def as_dict(self) -> dict:
        return {
            "by_signal": {s: asdict(c) for s, c in sorted(self.by_signal().items())},
            "by_signal_and_tenant": {
                s: {t: asdict(c) for (s2, t), c in sorted(self.counts.items()) if s2 == s}
                for s in sorted({s for s, _ in self.counts})
            },
        }

    def reset(self) -> None:
        self.counts.clear()
        self._unreported.clear()


ledger = IngestLedger()


@events.report_to_master.add_listener
def _ship(client_id: str, data: dict) -> None:
    data[REPORT_KEY] = ledger.take_unreported()


@events.worker_report.add_listener
def _merge(client_id: str, data: dict) -> None:
    ledger.merge(data.get(REPORT_KEY, []))


@events.test_start.add_listener
def _reset(environment, **kwargs) -> None:
    ledger.reset()

"""Everything the running platform holds: auth, per-tenant stores, limiters, live tail, counters."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector

from obstack_load.core.tenants import Population, Tenant
from obstack_load.platform.backend import Backend, MemoryBackend
from obstack_load.platform.ratelimit import TokenBucket, Unlimited
from obstack_load.platform.settings import PlatformSettings
from obstack_load.platform.storage import TenantStore

# Panels of the seeded dashboards; each evaluates one metrics query.
PANEL_TEMPLATES = (
    ("CPU utilisation by service", "system.cpu.utilization", "avg", ["service.name"]),
    ("Requests by route", "http.server.request.count", "sum", ["http.route"]),
    ("Request duration (sum)", "http.server.request.duration_sum", "sum", ["service.name"]),
    ("Request count (histogram)", "http.server.request.duration_count", "sum", []),
    ("Peak CPU", "system.cpu.utilization", "max", []),
)
ALERT_TEMPLATES = (
    ("HighErrorRate", "critical", "error rate above 5% on {service}"),
    ("HighLatency", "warning", "p95 latency above 500ms on {service}"),
    ("DiskFilling", "warning", "disk 85% full on {host}"),
    ("PodCrashLooping", "critical", "{service} pod restarting"),
)


class Metrics:
    """The platform's own Prometheus counters. No tenant labels: /metrics must not leak tenants."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # process_cpu_seconds_total and memory: what a capacity search reads as the target's CPU
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "obstack_http_requests", "HTTP requests served", ["handler", "method", "code"],
            registry=self.registry,
        )  # fmt: skip
        self.accepted = Counter(
            "obstack_ingested_items", "OTLP items accepted", ["signal"], registry=self.registry
        )
        self.rejected = Counter(
            "obstack_rejected_items", "OTLP items rejected (partial success)", ["signal"],
            registry=self.registry,
        )  # fmt: skip
        self.throttled = Counter(
            "obstack_throttled_requests", "OTLP requests answered 429", ["signal"],
            registry=self.registry,
        )  # fmt: skip
        for signal in ("logs", "metrics", "traces"):  # at 0 from the start, as Prometheus
            for counter in (self.accepted, self.rejected, self.throttled):  # advises: a query
                counter.labels(signal=signal)  # of "none throttled" then answers 0, not nothing
        self.live_dropped = Counter(
            "obstack_live_dropped_messages", "live-tail messages dropped on full queues",
            registry=self.registry,
        )  # fmt: skip
        self.live_subscribers = Gauge(
            "obstack_live_subscribers", "open live-tail WebSockets", registry=self.registry
        )
        self.live_queue_depth = Gauge(
            "obstack_live_queue_depth",
            "messages waiting in live-tail queues",
            registry=self.registry,
        )
        self.stored = Gauge(
            "obstack_stored_items", "items held in memory", ["kind"], registry=self.registry
        )


@dataclass(frozen=True)
class LiveMessage:
    message: dict[str, Any]
    encoded_without_close: str  # the JSON object minus its closing brace

    def encode(self, sent_at_ns: int) -> str:
        return f'{self.encoded_without_close},"sent_at_ns":{sent_at_ns}}}'


class EveryNth:
    """A test-only fault's trigger: true on every ``n``th call, never when ``n`` is 0."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.calls = 0

    def __call__(self) -> bool:
        if not self.n:
            return False
        self.calls += 1
        return self.calls % self.n == 0


class LiveHub:
    """Fans newly ingested log records out to each tenant's live-tail subscribers."""

    def __init__(self, metrics: Metrics, queue_size: int, leak_every: int = 0) -> None:
        self.metrics = metrics
        self.queue_size = queue_size
        self.subscribers: dict[str, set[asyncio.Queue]] = {}
        self.leaks = EveryNth(leak_every)  # test-only: a message also to another tenant

    def subscribe(self, tenant_id: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=self.queue_size)
        self.subscribers.setdefault(tenant_id, set()).add(queue)
        self.metrics.live_subscribers.inc()
        return queue

    def unsubscribe(self, tenant_id: str, queue: asyncio.Queue) -> None:
        self.subscribers.get(tenant_id, set()).discard(queue)
        self.metrics.live_subscribers.dec()

    def publish(self, tenant_id: str, records: list[dict[str, Any]]) -> None:
        queues = self.subscribers.get(tenant_id) or set()
        if self.leaks():
            others = [t for t, qs in self.subscribers.items() if t != tenant_id and qs]
            if others:  # the deliberate fault: a message reaches another tenant's subscribers
                queues = queues | self.subscribers[others[0]]
        if not queues:
            return
        message = {
            "type": "logs",
            "tenant_id": tenant_id,
            "ingested_at_ns": time.time_ns(),
            "records": [
                {
                    "time_unix_nano": r["time_unix_nano"],
                    "severity_text": r["severity_text"],
                    "service": r["service"],
                    "body": r["body"],
                    "attributes": r["attributes"],
                }
                for r in records
            ],
        }
        # Encode once for every subscriber; each send only appends its own send time.
        item = LiveMessage(message, json.dumps(message, separators=(",", ":"))[:-1])
        for queue in queues:
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                self.metrics.live_dropped.inc()

    def queue_depth(self) -> int:
        return sum(q.qsize() for queues in self.subscribers.values() for q in queues)


def stable_id(prefix: str, *parts: object) -> str:
    return prefix + hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:12]


@dataclass
class TenantObjects:
    """A tenant's dashboards and alerts, keyed by id."""

    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)


def seed_objects(tenant: Tenant) -> TenantObjects:
    objects = TenantObjects()
    for index in range(3 + len(tenant.services) // 8):
        service = tenant.services[index % len(tenant.services)]
        dashboard_id = stable_id("dsh_", tenant.tenant_id, index)
        panels = [
            {
                "id": f"p{n}",
                "title": title,
                "query": {"metric": metric, "aggregation": agg, "by": by, "match": []},
            }
            for n, (title, metric, agg, by) in enumerate(PANEL_TEMPLATES[: 2 + index % 4])
        ]
        objects.dashboards[dashboard_id] = {
            "id": dashboard_id,
            "tenant_id": tenant.tenant_id,
            "title": f"{service} overview",
            "panels": panels,
        }
    for index in range(2 + len(tenant.hosts) // 20):
        name, severity, summary = ALERT_TEMPLATES[index % len(ALERT_TEMPLATES)]
        alert_id = stable_id("alr_", tenant.tenant_id, index)
        objects.alerts[alert_id] = {
            "id": alert_id,
            "tenant_id": tenant.tenant_id,
            "name": name,
            "severity": severity,
            "state": "firing",
            "summary": summary.format(
                service=tenant.services[index % len(tenant.services)],
                host=tenant.hosts[index % len(tenant.hosts)],
            ),
            "acknowledged_by": None,
            "acknowledged_at": None,
        }
    return objects


class PlatformState:
    def __init__(self, settings: PlatformSettings, population: Population) -> None:
        self.settings = settings
        self.population = population
        self.started_at = time.time()
        self.metrics = Metrics()
        self.live = LiveHub(self.metrics, settings.live_queue_size, settings.test_live_leak_every)
        self.tenant_ids = {t.tenant_id for t in population.tenants}
        self.stores = {tid: TenantStore(tid, settings) for tid in self.tenant_ids}
        self.backend: Backend
        if settings.db:
            from obstack_load.platform.postgres import PostgresBackend  # psycopg only when asked

            self.backend = PostgresBackend(settings, population, self.metrics.registry)
        else:
            objects = {t.tenant_id: seed_objects(t) for t in population.tenants}
            self.backend = MemoryBackend(settings, population, self.stores, objects)
        self._limiters: dict[tuple[str, str], TokenBucket | Unlimited] = {}
        # test-only faults: a dashboards listing that leaks, an accepted batch never stored
        self.leaks_dashboard = EveryNth(settings.test_leak_every)
        self.hides_batch = EveryNth(settings.test_hide_every)

    def fault_on(self, fault: str) -> bool:
        """Whether the test-only fault file (``--test-fault-file``) names ``fault`` now."""
        path = self.settings.test_fault_file
        if not path:
            return False
        try:
            with open(path) as file:
                return file.read().strip() == fault
        except OSError:
            return False

    def store(self, tenant_id: str) -> TenantStore:
        return self.stores[tenant_id]

    def limiter(self, tenant_id: str, signal: str) -> TokenBucket | Unlimited:
        key = (tenant_id, signal)
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = (
                TokenBucket(self.settings.ingest_rate_limit)
                if self.settings.ingest_rate_limit > 0
                else Unlimited()
            )
        return limiter

    def stored(self, tenant_id: str) -> dict[str, int]:
        """What is held for a tenant: logs and traces here, series wherever the backend is."""
        counts = self.stores[tenant_id].counts()
        counts["series"] = self.backend.series_count(tenant_id)
        return counts

    def stored_totals(self) -> dict[str, int]:
        totals = {"log_records": 0, "traces": 0, "series": 0}
        for tenant_id in self.tenant_ids:
            for kind, value in self.stored(tenant_id).items():
                totals[kind] += value
        return totals

    async def sweep(self) -> None:
        now = time.time()
        for store in self.stores.values():
            store.sweep(now)
        await self.backend.expire()
        totals = self.stored_totals()
        for kind, value in totals.items():
            self.metrics.stored.labels(kind).set(value)
        self.metrics.live_queue_depth.set(self.live.queue_depth())

"""Where the platform keeps its records: the one seam between the API and its storage.

The API and the OTLP handlers talk to a ``Backend`` only, as OpenTelemetry's exporters talk to a
transport. Two implement it:

- ``MemoryBackend`` (the default): accounts, sessions, keys, dashboards, alerts and metric
  points in this process, as the platform always kept them;
- ``PostgresBackend`` (``--db DSN``, ``platform/postgres.py``): the same records in PostgreSQL.

Logs and traces stay in this process with either (``storage.TenantStore``); the database issue
covers the metrics path. Every method is async so that either can sit behind it, and every
method that reads a tenant's records takes the tenant's id: there is no call that could return
another tenant's rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from obstack_load.core.tenants import Population
from obstack_load.platform.auth import AuthService, Principal
from obstack_load.platform.settings import PlatformSettings
from obstack_load.platform.storage import Matcher, TenantStore, evaluate_query


class Unavailable(Exception):
    """The store cannot answer now (the database is down, the pool is exhausted, the write
    queue is full): the request is answered 503 with Retry-After, and nothing was stored."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class PointRow:
    """One metric point to store; ``group`` is the OTLP data point it came from (a histogram
    point gives two rows, ``_count`` and ``_sum``, that are accepted or refused together)."""

    name: str
    labels: dict[str, Any]
    time_unix_nano: int
    value: float
    group: int = 0


@dataclass(frozen=True)
class MetricQuery:
    metric: str
    matchers: list[Matcher]
    start_ns: int
    end_ns: int
    step_ns: int
    aggregation: str
    by: list[str] = field(default_factory=list)


class Backend(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def check(self) -> dict[str, Any]: ...  # readiness: {"ok": bool, ...}

    # sessions and credentials
    async def login(self, username: str, password: str) -> dict[str, object]: ...
    async def refresh_session(self, refresh_token: str) -> dict[str, object]: ...
    async def logout(self, token: str) -> None: ...
    async def session(self, token: str) -> Principal | None: ...
    async def ingest_tenant(self, api_key: str) -> str | None: ...
    async def expire(self) -> None: ...

    # a tenant's accounts and keys
    async def users(self, tenant_id: str) -> list[dict[str, str]]: ...
    async def add_user(self, tenant_id: str, username: str, password: str, role: str) -> dict: ...
    async def delete_user(self, tenant_id: str, user_id: str) -> bool: ...
    async def api_keys(self, tenant_id: str) -> list[dict[str, object]]: ...
    async def add_api_key(self, tenant_id: str, name: str) -> dict[str, object]: ...
    async def rotate_api_key(self, tenant_id: str, key_id: str) -> dict[str, object] | None: ...
    async def delete_api_key(self, tenant_id: str, key_id: str) -> bool: ...

    # a tenant's dashboards and alerts
    async def dashboards(self, tenant_id: str) -> list[dict[str, Any]]: ...
    async def dashboard(self, tenant_id: str, dashboard_id: str) -> dict[str, Any] | None: ...
    async def create_dashboard(self, tenant_id: str, dashboard: dict[str, Any]) -> None: ...
    async def alerts(self, tenant_id: str) -> list[dict[str, Any]]: ...
    async def ack_alert(self, tenant_id: str, alert_id: str, username: str) -> dict | None: ...

    # a tenant's metrics
    async def add_points(self, tenant_id: str, rows: list[PointRow]) -> set[int]: ...
    async def metric_names(self, tenant_id: str) -> list[str]: ...
    async def query(self, tenant_id: str, query: MetricQuery) -> list[dict[str, Any]]: ...
    def series_count(self, tenant_id: str) -> int: ...


class MemoryBackend:
    """Everything in this process: bounded, and gone when it stops."""

    def __init__(
        self,
        settings: PlatformSettings,
        population: Population,
        stores: dict[str, TenantStore],
        objects: dict[str, Any],
    ) -> None:
        self.auth = AuthService(
            population, settings.token_ttl_seconds, settings.refresh_ttl_seconds
        )
        self.stores = stores
        self.objects = objects

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def check(self) -> dict[str, Any]:
        return {"ok": True, "kind": "memory"}

    async def login(self, username: str, password: str) -> dict[str, object]:
        return self.auth.login(username, password)

    async def refresh_session(self, refresh_token: str) -> dict[str, object]:
        return self.auth.refresh_session(refresh_token)

    async def logout(self, token: str) -> None:
        self.auth.logout(token)

    async def session(self, token: str) -> Principal | None:
        found = self.auth.access.get(token)
        if found is None or found.expires_at < time.monotonic():
            return None
        return found.principal

    async def ingest_tenant(self, api_key: str) -> str | None:
        record = self.auth.api_keys.get(api_key)
        return record.tenant_id if record else None

    async def expire(self) -> None:
        self.auth.expire()

    async def users(self, tenant_id: str) -> list[dict[str, str]]:
        return [u.public() for u in self.auth.tenant_users(tenant_id)]

    async def add_user(self, tenant_id: str, username: str, password: str, role: str) -> dict:
        return self.auth.add_user(tenant_id, username, password, role).public()

    async def delete_user(self, tenant_id: str, user_id: str) -> bool:
        return self.auth.delete_user(tenant_id, user_id)

    async def api_keys(self, tenant_id: str) -> list[dict[str, object]]:
        return [k.public() for k in self.auth.tenant_api_keys(tenant_id)]

    async def add_api_key(self, tenant_id: str, name: str) -> dict[str, object]:
        record = self.auth.add_api_key(tenant_id, name)
        return {**record.public(), "key": record.key}

    async def rotate_api_key(self, tenant_id: str, key_id: str) -> dict[str, object] | None:
        record = self.auth.find_api_key(tenant_id, key_id)
        if record is None:
            return None
        record = self.auth.rotate_api_key(record)
        return {**record.public(), "key": record.key}

    async def delete_api_key(self, tenant_id: str, key_id: str) -> bool:
        record = self.auth.find_api_key(tenant_id, key_id)
        if record is not None:
            self.auth.delete_api_key(record)
        return record is not None

    async def dashboards(self, tenant_id: str) -> list[dict[str, Any]]:
        return list(self.objects[tenant_id].dashboards.values())

    async def dashboard(self, tenant_id: str, dashboard_id: str) -> dict[str, Any] | None:
        return self.objects[tenant_id].dashboards.get(dashboard_id)

    async def create_dashboard(self, tenant_id: str, dashboard: dict[str, Any]) -> None:
        self.objects[tenant_id].dashboards[dashboard["id"]] = dashboard

    async def alerts(self, tenant_id: str) -> list[dict[str, Any]]:
        return list(self.objects[tenant_id].alerts.values())

    async def ack_alert(self, tenant_id: str, alert_id: str, username: str) -> dict | None:
        alert = self.objects[tenant_id].alerts.get(alert_id)
        if alert is not None:
            alert.update(
                state="acknowledged", acknowledged_by=username, acknowledged_at=time.time()
            )
        return alert

    async def add_points(self, tenant_id: str, rows: list[PointRow]) -> set[int]:
        store, now, refused = self.stores[tenant_id], time.time(), set()
        for row in rows:
            if not store.add_point(row.name, row.labels, row.time_unix_nano, row.value, now):
                refused.add(row.group)
        return refused

    async def metric_names(self, tenant_id: str) -> list[str]:
        return sorted(self.stores[tenant_id].series_by_name)

    async def query(self, tenant_id: str, query: MetricQuery) -> list[dict[str, Any]]:
        return evaluate_query(
            self.stores[tenant_id].matching_series(query.metric, query.matchers),
            start_ns=query.start_ns,
            end_ns=query.end_ns,
            step_ns=query.step_ns,
            aggregation=query.aggregation,
            by=query.by,
        )

    def series_count(self, tenant_id: str) -> int:
        return len(self.stores[tenant_id].series)

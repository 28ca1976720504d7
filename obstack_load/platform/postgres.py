"""The platform's records in PostgreSQL (``obstack-load platform --db DSN``).

Accounts, sessions and refresh tokens, API keys, dashboards, alerts, metric series and points
live in the schema of ``platform/database.py``, reached through psycopg 3's async pool.

- Every read of a tenant's rows runs as the tenant role with the tenant's id set
  (``SCOPE``), so row-level security holds even where a statement forgot its ``WHERE``.
- Metric points are written by one ``PointWriter``: requests queue their rows (bounded, in
  points) and the writer COPYs whatever is queued in one transaction, a group commit. A request
  is answered only once its rows are committed; when the queue is full, or the transaction
  fails, it is answered 503 with Retry-After and none of its rows were stored. Nothing that was
  answered 200 can be lost, and nothing is dropped silently.
- A database error that means "not now" (a lost connection, the pool exhausted, a statement
  timeout) is ``Unavailable``: 503, and the pool replaces the broken connections by itself.
- ``/metrics`` gets the pool's own statistics (``get_stats()``) and a latency histogram per
  statement kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hmac
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import psycopg_pool
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from psycopg.types.json import Jsonb

from obstack_load.core.tenants import Population
from obstack_load.platform import database
from obstack_load.platform.auth import AuthError, Principal, password_digest, token_digest
from obstack_load.platform.backend import MetricQuery, PointRow, Unavailable
from obstack_load.platform.settings import PlatformSettings

logger = logging.getLogger("obstack.platform.postgres")

APPLICATION_NAME = "obstack-platform"
SCOPE = "SELECT set_config('role', %s, true), set_config('obstack.tenant_id', %s, true)"
# Errors that mean the database cannot answer now, rather than that the request is wrong.
UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout)
SQL_AGGREGATES = {
    "avg": "avg(p.value)",
    "sum": "sum(p.value)",
    "min": "min(p.value)",
    "max": "max(p.value)",
    "count": "count(*)::float8",
    "last": "(array_agg(p.value ORDER BY p.ts DESC))[1]",
}
MATCH_SQL = {"=": "=", "!=": "<>", "=~": "~", "!~": "!~"}


def series_key(name: str, labels: dict[str, Any]) -> tuple:
    return (name, tuple(sorted((k, str(v)) for k, v in labels.items())))


def where(dsn: str) -> str:
    """A DSN named by host, port and database: never with its password."""
    parts = psycopg.conninfo.conninfo_to_dict(dsn)
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


def check_dsn(dsn: str, option: str = "--db") -> None:
    """One line naming the option and the server, before anything listens."""
    try:
        place = where(dsn)
    except psycopg.Error as exc:
        raise SystemExit(f"obstack-load platform: {option}: not a PostgreSQL DSN: {exc}") from None
    try:
        psycopg.connect(dsn, connect_timeout=5).close()
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())
        raise SystemExit(f"obstack-load platform: {option}: {place}: {reason}") from None


@dataclass
class TenantSeries:
    """A tenant's series ids, kept here so that ingesting a point needs no lookup round trip."""

    ids: dict[tuple, int] = field(default_factory=dict)
    next_id: int = 1


@dataclass
class PendingWrite:
    series: list[tuple[str, int, str, Jsonb]]
    points: list[tuple[str, int, datetime.datetime, float]]
    done: asyncio.Future


class PointWriter:
    """Group commit of metric points from a bounded queue (see the module docstring)."""

    def __init__(self, pool: psycopg_pool.AsyncConnectionPool, settings: PlatformSettings,
                 metrics: DatabaseMetrics) -> None:  # fmt: skip
        self.pool = pool
        self.capacity = settings.db_write_queue_points
        self.batch_points = settings.db_write_batch_points
        self.metrics = metrics
        self.queue: deque[PendingWrite] = deque()
        self.queued_points = 0
        # series rows whose transaction failed: written with every batch until one commits,
        # since later points may already name them (ON CONFLICT makes the repeat harmless)
        self.unsaved_series: list[tuple] = []
        self.wakeup = asyncio.Event()
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Commit what is queued (its callers are waiting for the answer), then stop."""
        if self.task is None:
            return
        self.wakeup.set()
        deadline = time.monotonic() + 10
        while self.queue and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self.task.cancel()
        for pending in self.queue:  # the callers are answered 503: not stored, not lost
            if not pending.done.done():
                pending.done.set_exception(Unavailable("the platform is stopping"))

    def submit(self, series: list, points: list) -> asyncio.Future:
        if self.queued_points + len(points) > self.capacity:
            self.metrics.write_refused.inc(len(points))
            raise Unavailable(f"the write queue is full ({self.queued_points} points waiting)")
        done = asyncio.get_running_loop().create_future()
        self.queue.append(PendingWrite(series, points, done))
        self.queued_points += len(points)
        self.metrics.write_queue.set(self.queued_points)
        self.wakeup.set()
        return done

    async def _run(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while self.queue:
                batch = [self.queue.popleft()]
                size = len(batch[0].points)
                while self.queue and size + len(self.queue[0].points) <= self.batch_points:
                    batch.append(self.queue.popleft())
                    size += len(batch[-1].points)
                error = await self._write(batch)
                self.queued_points -= size
                self.metrics.write_queue.set(self.queued_points)
                for pending in batch:
                    if pending.done.done():
                        continue
                    if error is None:
                        pending.done.set_result(None)
                    else:
                        pending.done.set_exception(error)

    async def _write(self, batch: list[PendingWrite]) -> Exception | None:
        started = time.perf_counter()
        points = [row for pending in batch for row in pending.points]
        series = self.unsaved_series + [row for pending in batch for row in pending.series]
        self.unsaved_series = []
        try:
            async with self.pool.connection() as conn, conn.transaction():
                if series:
                    async with conn.cursor() as cursor:
                        await cursor.executemany(
                            "INSERT INTO metric_series (tenant_id, series_id, name, labels) "
                            "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                            series,
                        )
                async with conn.cursor().copy(
                    "COPY metric_points (tenant_id, series_id, ts, value) FROM STDIN"
                ) as copy:
                    for row in points:
                        await copy.write_row(row)
        except UNAVAILABLE as exc:
            self.unsaved_series = series
            self.metrics.write_failed.inc(len(points))
            return Unavailable(f"database unavailable: {_first_line(exc)}")
        except psycopg.Error as exc:  # a bad row: refuse the batch, loudly, and go on
            logger.error("metric points batch refused by the database: %s", _first_line(exc))
            self.metrics.write_failed.inc(len(points))
            return Unavailable(f"database refused the batch: {_first_line(exc)}")
        finally:
            self.metrics.latency.labels("insert_points").observe(time.perf_counter() - started)
        self.metrics.written.inc(len(points))
        return None


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


class DatabaseMetrics:
    """The database's part of the platform's /metrics: pool statistics, read at each scrape,
    per-statement-kind latencies, and the point writer's queue and outcomes."""

    def __init__(self, registry: Any) -> None:
        self.pool: psycopg_pool.AsyncConnectionPool | None = None
        self.latency = Histogram(
            "obstack_db_query_seconds", "database statement latency by kind", ["kind"],
            buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10),
            registry=registry,
        )  # fmt: skip
        self.write_queue = Gauge(
            "obstack_db_write_queue_points", "metric points waiting to be written",
            registry=registry,
        )  # fmt: skip
        self.written = Counter(
            "obstack_db_points_written", "metric points committed", registry=registry
        )
        self.write_refused = Counter(
            "obstack_db_points_refused_queue_full",
            "metric points answered 503 because the write queue was full", registry=registry,
        )  # fmt: skip
        self.write_failed = Counter(
            "obstack_db_points_refused_write_failed",
            "metric points answered 503 because their transaction failed", registry=registry,
        )  # fmt: skip
        registry.register(self)

    def collect(self):  # prometheus_client's custom-collector protocol
        stats = self.pool.get_stats() if self.pool is not None else {}
        for key, value in sorted(stats.items()):
            family = GaugeMetricFamily(f"obstack_db_pool_{key}", f"psycopg_pool get_stats() {key}")
            family.add_metric([], float(value))
            yield family


class PostgresBackend:
    def __init__(self, settings: PlatformSettings, population: Population, registry: Any) -> None:
        self.settings = settings
        self.population = population
        self.dsn = settings.db
        self.metrics = DatabaseMetrics(registry)
        self.series: dict[str, TenantSeries] = {}
        self.pool = psycopg_pool.AsyncConnectionPool(
            self.dsn,
            min_size=settings.db_pool_size,
            max_size=settings.db_pool_size,
            timeout=settings.db_pool_timeout,
            kwargs={"autocommit": True, "application_name": APPLICATION_NAME},
            configure=self._configure,
            name="obstack-platform",
            open=False,
        )
        self.metrics.pool = self.pool
        self.writer = PointWriter(self.pool, settings, self.metrics)
        # credential digest: (principal, expires at): the last answer the database gave, kept
        # only to serve while it is away (see _still_valid); it is never read while it is up
        self.verified: dict[str, tuple[Principal, float]] = {}
        self.broken = False  # testing only: set on the first outage with --test-never-recover

    async def _configure(self, conn: psycopg.AsyncConnection) -> None:
        # a statement that never returns ends as Unavailable (503), not as a hung request
        await conn.execute(f"SET statement_timeout = {int(self.settings.db_pool_timeout * 2000)}")

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self._migrate)
        await self.pool.open(wait=True, timeout=30)
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT tenant_id, series_id, name, labels FROM metric_series"
            )
            for tenant_id, series_id, name, labels in await cursor.fetchall():
                known = self.series.setdefault(tenant_id, TenantSeries())
                known.ids[series_key(name, labels)] = series_id
                known.next_id = max(known.next_id, series_id + 1)
        self.writer.start()

    def _migrate(self) -> None:
        today = datetime.datetime.now(datetime.UTC).date()
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=10) as conn:
            database.migrate(conn, today - datetime.timedelta(days=7), 15)
            with conn.transaction():
                database.load_population(conn, self.population)

    async def close(self) -> None:
        await self.writer.stop()
        await self.pool.close(timeout=5)

    async def check(self) -> dict[str, Any]:
        stats = self.pool.get_stats()
        try:
            async with self._connection("readiness", timeout=2) as conn:
                await conn.execute("SELECT 1")
            ok, error = True, None
        except Unavailable as exc:
            ok, error = False, exc.message
        return {
            "ok": ok, "kind": "postgresql", "database": where(self.dsn), "error": error,
            "pool_size": stats.get("pool_size", 0), "pool_available": stats.get("pool_available", 0),
            "requests_waiting": stats.get("requests_waiting", 0),
            "write_queue_points": self.writer.queued_points,
        }  # fmt: skip

    # ---- connections --------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _connection(
        self, kind: str, tenant_id: str | None = None, timeout: float | None = None
    ) -> AsyncIterator[psycopg.AsyncConnection]:
        """A pooled connection for one statement kind, timed; scoped to a tenant when given."""
        started = time.perf_counter()
        if self.broken:  # testing only (--test-never-recover): the outage never ends
            raise Unavailable("database unavailable (--test-never-recover)")
        try:
            async with self.pool.connection(timeout=timeout) as conn:
                if tenant_id is None:
                    yield conn
                else:
                    async with conn.transaction():
                        await conn.execute(SCOPE, (database.TENANT_ROLE, tenant_id))
                        yield conn
        except UNAVAILABLE as exc:
            self.broken = self.settings.test_never_recover
            raise Unavailable(f"database unavailable: {_first_line(exc)}") from None
        finally:
            self.metrics.latency.labels(kind).observe(time.perf_counter() - started)

    async def _rows(self, kind: str, sql: str, params: tuple = (), tenant_id: str | None = None):
        async with self._connection(kind, tenant_id) as conn:
            cursor = await conn.execute(sql, params)
            return await cursor.fetchall()

    # ---- sessions and credentials -------------------------------------------------------------

    async def login(self, username: str, password: str) -> dict[str, object]:
        rows = await self._rows(
            "login",
            "SELECT tenant_id, user_id, role, password_hash FROM users WHERE username = %s",
            (username,),
        )
        if rows:
            tenant_id, user_id, role, stored = rows[0]
            if hmac.compare_digest(stored, password_digest(user_id, password or "")):
                return await self._issue(Principal(tenant_id, role, username), user_id)
        else:  # the same work for an unknown user, so the timing does not tell
            hmac.compare_digest("0" * 64, password_digest("usr_unknown", password or ""))
        raise AuthError(401, "invalid username or password")

    async def _issue(self, principal: Principal, user_id: str) -> dict[str, object]:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
        session_id = secrets.token_hex(8)
        insert = (
            "INSERT INTO {} (tenant_id, token_hash, session_id, user_id, username, role, "
            "expires_at) VALUES (%s, %s, %s, %s, %s, %s, now() + make_interval(secs => %s))"
        )
        row = (principal.tenant_id, session_id, user_id, principal.username, principal.role)
        async with self._connection("session_write") as conn, conn.transaction():
            await conn.execute(
                insert.format("sessions"),
                (row[0], token_digest(access), *row[1:], self.settings.token_ttl_seconds),
            )
            await conn.execute(
                insert.format("refresh_tokens"),
                (row[0], token_digest(refresh), *row[1:], self.settings.refresh_ttl_seconds),
            )
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": self.settings.token_ttl_seconds,
            "tenant_id": principal.tenant_id,
            "username": principal.username,
            "role": principal.role,
        }

    async def refresh_session(self, refresh_token: str) -> dict[str, object]:
        async with self._connection("session_write") as conn, conn.transaction():
            cursor = await conn.execute(
                "DELETE FROM refresh_tokens WHERE token_hash = %s "
                "RETURNING tenant_id, user_id, username, role, expires_at > now()",
                (token_digest(refresh_token),),
            )
            found = await cursor.fetchone()
            if found is None or not found[4]:
                raise AuthError(401, "invalid or expired refresh token")
            tenant_id, user_id, username, role, _ = found
            cursor = await conn.execute(
                "SELECT 1 FROM users WHERE tenant_id = %s AND user_id = %s", (tenant_id, user_id)
            )
            if await cursor.fetchone() is None:
                raise AuthError(401, "user no longer exists")
        return await self._issue(Principal(tenant_id, role, username), user_id)

    async def logout(self, token: str) -> None:
        self.verified.pop(token_digest(token), None)
        async with self._connection("session_write") as conn, conn.transaction():
            await conn.execute(
                "WITH ended AS (DELETE FROM sessions WHERE token_hash = %s RETURNING session_id) "
                "DELETE FROM refresh_tokens WHERE session_id IN (SELECT session_id FROM ended)",
                (token_digest(token),),
            )

    async def session(self, token: str) -> Principal | None:
        digest = token_digest(token)
        try:
            rows = await self._rows(
                "session",
                "SELECT tenant_id, role, username, extract(epoch FROM expires_at)::float8 "
                "FROM sessions WHERE token_hash = %s AND expires_at > now()",
                (digest,),
            )
        except Unavailable:
            return self._still_valid(digest)
        if not rows:
            self.verified.pop(digest, None)
            return None
        principal = Principal(*rows[0][:3])
        self.verified[digest] = (principal, rows[0][3])
        return principal

    async def ingest_tenant(self, api_key: str) -> str | None:
        digest = token_digest(api_key)
        try:
            rows = await self._rows(
                "api_key", "SELECT tenant_id FROM api_keys WHERE key_hash = %s", (digest,)
            )
        except Unavailable:
            found = self._still_valid(digest)
            return found.tenant_id if found else None
        if not rows:
            self.verified.pop(digest, None)
            return None
        self.verified[digest] = (Principal(rows[0][0], "ingest"), float("inf"))
        return rows[0][0]

    def _still_valid(self, digest: str) -> Principal | None:
        """While the database is away, a credential this process verified before stays valid
        until it expires (tokens already issued keep working); anything else is a 503."""
        found = self.verified.get(digest)
        if found is None or found[1] < time.time():
            raise Unavailable("database unavailable, and this credential was not verified before")
        return found[0]

    def _forget(self, tenant_id: str) -> None:
        """A revocation (logout is by token) drops the tenant's fallback entries at once: they
        are only a fallback, so dropping more than the one revoked costs nothing."""
        for digest, (principal, _) in list(self.verified.items()):
            if principal.tenant_id == tenant_id:
                del self.verified[digest]

    async def expire(self) -> None:
        async with self._connection("expire") as conn:
            await conn.execute("DELETE FROM sessions WHERE expires_at < now()")
            await conn.execute("DELETE FROM refresh_tokens WHERE expires_at < now()")

    # ---- a tenant's accounts and keys ---------------------------------------------------------

    async def users(self, tenant_id: str) -> list[dict[str, str]]:
        rows = await self._rows(
            "admin_read",
            "SELECT user_id, tenant_id, username, role FROM users WHERE tenant_id = %s "
            "ORDER BY username",
            (tenant_id,),
            tenant_id,
        )
        return [
            dict(zip(("id", "tenant_id", "username", "role"), row, strict=True)) for row in rows
        ]

    async def add_user(self, tenant_id: str, username: str, password: str, role: str) -> dict:
        user_id = "usr_" + secrets.token_hex(6)
        try:
            async with self._connection("admin_write", tenant_id) as conn:
                await conn.execute(
                    "INSERT INTO users (tenant_id, user_id, username, role, password_hash) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (tenant_id, user_id, username, role, password_digest(user_id, password)),
                )
        except psycopg.errors.UniqueViolation:
            raise AuthError(409, f"user {username!r} already exists") from None
        return {"id": user_id, "tenant_id": tenant_id, "username": username, "role": role}

    async def delete_user(self, tenant_id: str, user_id: str) -> bool:
        async with self._connection("admin_write", tenant_id) as conn:
            cursor = await conn.execute(
                "DELETE FROM users WHERE tenant_id = %s AND user_id = %s RETURNING user_id",
                (tenant_id, user_id),
            )
            if await cursor.fetchone() is None:
                return False
            self._forget(tenant_id)
            for table in ("sessions", "refresh_tokens"):  # the user's sessions end with it
                await conn.execute(
                    f"DELETE FROM {table} WHERE tenant_id = %s AND user_id = %s",
                    (tenant_id, user_id),
                )
        return True

    KEY_COLUMNS = "key_id, tenant_id, name, prefix, extract(epoch FROM created_at)::float8"

    @staticmethod
    def _key(row: tuple) -> dict[str, object]:
        return dict(zip(("id", "tenant_id", "name", "prefix", "created_at"), row, strict=True))

    async def api_keys(self, tenant_id: str) -> list[dict[str, object]]:
        rows = await self._rows(
            "admin_read",
            f"SELECT {self.KEY_COLUMNS} FROM api_keys WHERE tenant_id = %s ORDER BY created_at",
            (tenant_id,),
            tenant_id,
        )
        return [self._key(row) for row in rows]

    async def add_api_key(self, tenant_id: str, name: str) -> dict[str, object]:
        key = "obk_" + secrets.token_hex(16)
        rows = await self._rows(
            "admin_write",
            "INSERT INTO api_keys (tenant_id, key_id, key_hash, prefix, name) "
            f"VALUES (%s, %s, %s, %s, %s) RETURNING {self.KEY_COLUMNS}",
            (tenant_id, "key_" + secrets.token_hex(6), token_digest(key), key[:8], name),
            tenant_id,
        )
        return {**self._key(rows[0]), "key": key}

    async def rotate_api_key(self, tenant_id: str, key_id: str) -> dict[str, object] | None:
        self._forget(tenant_id)
        key = "obk_" + secrets.token_hex(16)
        rows = await self._rows(
            "admin_write",
            "UPDATE api_keys SET key_hash = %s, prefix = %s WHERE tenant_id = %s AND key_id = %s "
            f"RETURNING {self.KEY_COLUMNS}",
            (token_digest(key), key[:8], tenant_id, key_id),
            tenant_id,
        )
        return {**self._key(rows[0]), "key": key} if rows else None

    async def delete_api_key(self, tenant_id: str, key_id: str) -> bool:
        self._forget(tenant_id)
        rows = await self._rows(
            "admin_write",
            "DELETE FROM api_keys WHERE tenant_id = %s AND key_id = %s RETURNING key_id",
            (tenant_id, key_id),
            tenant_id,
        )
        return bool(rows)

    # ---- a tenant's dashboards and alerts -----------------------------------------------------

    async def dashboards(self, tenant_id: str) -> list[dict[str, Any]]:
        return await self._dashboards(tenant_id, None)

    async def dashboard(self, tenant_id: str, dashboard_id: str) -> dict[str, Any] | None:
        found = await self._dashboards(tenant_id, dashboard_id)
        return found[0] if found else None

    async def _dashboards(self, tenant_id: str, dashboard_id: str | None) -> list[dict[str, Any]]:
        rows = await self._rows(
            "dashboards",
            "SELECT d.dashboard_id, d.title, p.panel_id, p.title, p.query FROM dashboards d "
            "LEFT JOIN panels p USING (tenant_id, dashboard_id) "
            "WHERE d.tenant_id = %s AND (%s::text IS NULL OR d.dashboard_id = %s) "
            "ORDER BY d.created_at, d.dashboard_id, p.position",
            (tenant_id, dashboard_id, dashboard_id),
            tenant_id,
        )
        out: dict[str, dict[str, Any]] = {}
        for dash_id, title, panel_id, panel_title, query in rows:
            dashboard = out.setdefault(
                dash_id, {"id": dash_id, "tenant_id": tenant_id, "title": title, "panels": []}
            )
            if panel_id is not None:
                dashboard["panels"].append({"id": panel_id, "title": panel_title, "query": query})
        return list(out.values())

    async def create_dashboard(self, tenant_id: str, dashboard: dict[str, Any]) -> None:
        async with self._connection("dashboard_write", tenant_id) as conn:
            await conn.execute(
                database.INSERT_DASHBOARD, (tenant_id, dashboard["id"], dashboard["title"])
            )
            async with conn.cursor() as cursor:
                await cursor.executemany(
                    database.INSERT_PANEL, database.panel_rows(tenant_id, dashboard)
                )

    ALERT_COLUMNS = (
        "alert_id, tenant_id, name, severity, state, summary, acknowledged_by, "
        "extract(epoch FROM acknowledged_at)::float8"
    )

    @staticmethod
    def _alert(row: tuple) -> dict[str, Any]:
        keys = ("id", "tenant_id", "name", "severity", "state", "summary", "acknowledged_by",
                "acknowledged_at")  # fmt: skip
        return dict(zip(keys, row, strict=True))

    async def alerts(self, tenant_id: str) -> list[dict[str, Any]]:
        rows = await self._rows(
            "alerts",
            f"SELECT {self.ALERT_COLUMNS} FROM alerts WHERE tenant_id = %s ORDER BY alert_id",
            (tenant_id,),
            tenant_id,
        )
        return [self._alert(row) for row in rows]

    async def ack_alert(self, tenant_id: str, alert_id: str, username: str) -> dict | None:
        rows = await self._rows(
            "alert_write",
            "UPDATE alerts SET state = 'acknowledged', acknowledged_by = %s, "
            "acknowledged_at = now() WHERE tenant_id = %s AND alert_id = %s "
            f"RETURNING {self.ALERT_COLUMNS}",
            (username, tenant_id, alert_id),
            tenant_id,
        )
        return self._alert(rows[0]) if rows else None

    # ---- a tenant's metrics -------------------------------------------------------------------

    async def add_points(self, tenant_id: str, rows: list[PointRow]) -> set[int]:
        known = self.series.setdefault(tenant_id, TenantSeries())
        new_series, points, refused = [], [], set()
        for row in rows:
            key = series_key(row.name, row.labels)
            series_id = known.ids.get(key)
            if series_id is None:
                if len(known.ids) >= self.settings.max_series_per_tenant:
                    refused.add(row.group)
                    continue
                series_id = known.ids[key] = known.next_id
                known.next_id += 1
                new_series.append((tenant_id, series_id, row.name, Jsonb(row.labels)))
            stamp = datetime.datetime.fromtimestamp(row.time_unix_nano / 1e9, datetime.UTC)
            points.append((tenant_id, series_id, stamp, row.value))
        if points:
            try:
                done = self.writer.submit(new_series, points)
            except Unavailable:
                self.writer.unsaved_series += new_series  # their ids are known from now on
                raise
            await done
        return refused

    async def metric_names(self, tenant_id: str) -> list[str]:
        rows = await self._rows(
            "metric_names",
            "SELECT DISTINCT name FROM metric_series WHERE tenant_id = %s ORDER BY name",
            (tenant_id,),
            tenant_id,
        )
        return [row[0] for row in rows]

    async def query(self, tenant_id: str, query: MetricQuery) -> list[dict[str, Any]]:
        """One statement: the matching series joined to their points, bucketed by step and
        aggregated per group (the ``by`` labels, or each series)."""
        conditions, params = [], []
        for matcher in query.matchers:
            conditions.append(f"coalesce(s.labels->>%s, '') {MATCH_SQL[matcher.op]} %s")
            value = f"^(?:{matcher.value})$" if matcher.op in ("=~", "!~") else matcher.value
            params += [matcher.label, value]
        # Group by plain columns (the series id, or each ``by`` label as text) and bucket with
        # date_bin: per-row JSONB building or numeric epoch arithmetic cost several times more.
        if query.by:
            groups = ", ".join("coalesce(s.labels->>%s, '')" for _ in query.by)
        else:
            groups = "s.series_id"
        positions = ", ".join(str(i) for i in range(1, len(query.by or [None]) + 2))
        start_s, end_s = query.start_ns / 1e9, query.end_ns / 1e9
        buckets = (
            f"SELECT {groups}, date_bin(make_interval(secs => %s), p.ts, to_timestamp(%s)) "
            f"AS bucket, {SQL_AGGREGATES[query.aggregation]} AS value "
            "FROM metric_series s JOIN metric_points p "
            "ON p.tenant_id = s.tenant_id AND p.series_id = s.series_id "
            "WHERE s.tenant_id = %s AND s.name = %s "
            "AND p.ts >= to_timestamp(%s) AND p.ts <= to_timestamp(%s) "
            + "".join(f"AND {c} " for c in conditions)
            + f"GROUP BY {positions}"
        )
        params = [
            *query.by, query.step_ns / 1e9, start_s, tenant_id, query.metric, start_s, end_s,
            *params,
        ]  # fmt: skip
        if query.by:
            sql = f"{buckets} ORDER BY {positions}"
        else:  # each series' labels joined once per bucket, not once per point
            sql = (
                f"WITH b AS ({buckets}) SELECT s.labels, b.bucket, b.value FROM b "
                "JOIN metric_series s ON s.tenant_id = %s AND s.series_id = b.series_id "
                "ORDER BY b.series_id, b.bucket"
            )
            params.append(tenant_id)
        try:
            rows = await self._rows("metrics_query", sql, tuple(params), tenant_id)
        except psycopg.errors.InvalidRegularExpression as exc:
            raise ValueError(f"bad regex in matcher: {_first_line(exc)}") from None
        series: dict[str, dict[str, Any]] = {}
        for row in rows:
            labels = dict(zip(query.by, row[:-2], strict=True)) if query.by else row[0]
            bucket, value = row[-2], row[-1]
            entry = series.setdefault(
                json.dumps(labels, sort_keys=True), {"labels": labels, "points": []}
            )
            entry["points"].append([int(bucket.timestamp()), value])
        return list(series.values())

    def series_count(self, tenant_id: str) -> int:
        known = self.series.get(tenant_id)
        return len(known.ids) if known else 0

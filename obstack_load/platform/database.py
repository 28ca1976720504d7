"""The reference platform's PostgreSQL schema, as Obstack's would be, and its seeder.

Every row carries a ``tenant_id``, and row-level security keyed on the session's
``obstack.tenant_id`` setting keeps a tenant to its own rows even when a query forgets its
``WHERE tenant_id``: the platform's tenant role (``obstack_tenant``) is bound by the policies,
and only the owner that migrates and seeds is not. Metric points are partitioned by day, with
indexes for the dashboard and query paths. ``obstack-load db seed`` fills it by COPY with a
Zipf-sized multi-tenant history from the tenant population (config/tenants.yaml).

Imports nothing of the Locust side (the platform's contract); psycopg only.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from obstack_load.core.tenant_scope import TENANT_ROLE, TENANT_SETTING
from obstack_load.core.tenants import Population
from obstack_load.platform.auth import password_digest, token_digest
from obstack_load.platform.state import seed_objects, stable_id

TENANT_TABLES = (
    "users", "api_keys", "sessions", "refresh_tokens", "dashboards", "panels", "alerts",
    "metric_series", "metric_points",
)  # fmt: skip

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS tenants (
        tenant_id TEXT PRIMARY KEY, name TEXT NOT NULL, weight DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS users (
        tenant_id TEXT NOT NULL REFERENCES tenants, user_id TEXT NOT NULL, username TEXT NOT NULL,
        role TEXT NOT NULL, password_hash TEXT NOT NULL, PRIMARY KEY (tenant_id, user_id))""",
    "CREATE UNIQUE INDEX IF NOT EXISTS users_username_idx ON users (username)",
    """CREATE TABLE IF NOT EXISTS api_keys (
        tenant_id TEXT NOT NULL REFERENCES tenants, key_id TEXT NOT NULL, key_hash TEXT NOT NULL,
        prefix TEXT NOT NULL, name TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, key_id))""",
    "CREATE UNIQUE INDEX IF NOT EXISTS api_keys_hash_idx ON api_keys (key_hash)",
    # access and refresh tokens, by their SHA-256 only: the database never holds a usable token
    """CREATE TABLE IF NOT EXISTS sessions (
        tenant_id TEXT NOT NULL REFERENCES tenants, token_hash TEXT PRIMARY KEY,
        session_id TEXT NOT NULL, user_id TEXT NOT NULL, username TEXT NOT NULL,
        role TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS refresh_tokens (
        tenant_id TEXT NOT NULL REFERENCES tenants, token_hash TEXT PRIMARY KEY,
        session_id TEXT NOT NULL, user_id TEXT NOT NULL, username TEXT NOT NULL,
        role TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS sessions_session_idx ON sessions (session_id)",
    "CREATE INDEX IF NOT EXISTS refresh_tokens_session_idx ON refresh_tokens (session_id)",
    """CREATE TABLE IF NOT EXISTS dashboards (
        tenant_id TEXT NOT NULL REFERENCES tenants, dashboard_id TEXT NOT NULL,
        title TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, dashboard_id))""",
    """CREATE TABLE IF NOT EXISTS panels (
        tenant_id TEXT NOT NULL, dashboard_id TEXT NOT NULL, panel_id TEXT NOT NULL,
        title TEXT NOT NULL, position INT NOT NULL, query JSONB NOT NULL,
        PRIMARY KEY (tenant_id, dashboard_id, panel_id),
        FOREIGN KEY (tenant_id, dashboard_id) REFERENCES dashboards ON DELETE CASCADE)""",
    """CREATE TABLE IF NOT EXISTS alerts (
        tenant_id TEXT NOT NULL REFERENCES tenants, alert_id TEXT NOT NULL, name TEXT NOT NULL,
        severity TEXT NOT NULL, state TEXT NOT NULL, summary TEXT NOT NULL,
        acknowledged_by TEXT, acknowledged_at TIMESTAMPTZ, PRIMARY KEY (tenant_id, alert_id))""",
    """CREATE TABLE IF NOT EXISTS metric_series (
        tenant_id TEXT NOT NULL REFERENCES tenants, series_id BIGINT NOT NULL,
        name TEXT NOT NULL, labels JSONB NOT NULL, PRIMARY KEY (tenant_id, series_id))""",
    "CREATE UNIQUE INDEX IF NOT EXISTS metric_series_key_idx ON metric_series (tenant_id, name, labels)",
    """CREATE TABLE IF NOT EXISTS metric_points (
        tenant_id TEXT NOT NULL, series_id BIGINT NOT NULL, ts TIMESTAMPTZ NOT NULL,
        value DOUBLE PRECISION NOT NULL) PARTITION BY RANGE (ts)""",
)
POINT_INDEXES = (
    # the query path: one tenant's series over a time range
    "CREATE INDEX IF NOT EXISTS metric_points_series_ts_idx ON metric_points (tenant_id, series_id, ts)",
    # time-bucketed aggregations over a tenant's recent points
    "CREATE INDEX IF NOT EXISTS metric_points_tenant_ts_idx ON metric_points (tenant_id, ts)",
)


def row_security() -> list[str]:
    """The tenant role, and a policy per table: rows of the session's tenant only."""
    statements = [
        f"""DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{TENANT_ROLE}') THEN
                CREATE ROLE {TENANT_ROLE} NOLOGIN;
            END IF; END $$""",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {TENANT_ROLE}",
        f"GRANT SELECT ON tenants TO {TENANT_ROLE}",
        f"GRANT {TENANT_ROLE} TO CURRENT_USER",  # so that the owner may SET ROLE to it
    ]
    for table in TENANT_TABLES:
        statements += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS tenant_only ON {table}",
            f"CREATE POLICY tenant_only ON {table} TO {TENANT_ROLE} "
            f"USING (tenant_id = current_setting('{TENANT_SETTING}', true)) "
            f"WITH CHECK (tenant_id = current_setting('{TENANT_SETTING}', true))",
        ]
    return statements


def partition_statements(first: datetime.date, days: int) -> list[str]:
    """One partition of metric_points per day from ``first``."""
    out = []
    for offset in range(days):
        day = first + datetime.timedelta(days=offset)
        following = day + datetime.timedelta(days=1)
        out.append(
            f"CREATE TABLE IF NOT EXISTS metric_points_{day:%Y%m%d} PARTITION OF metric_points "
            f"FOR VALUES FROM ('{day.isoformat()}') TO ('{following.isoformat()}')"
        )
    # points stamped outside the daily partitions (a clock far off) still have a home
    out.append(
        "CREATE TABLE IF NOT EXISTS metric_points_default PARTITION OF metric_points DEFAULT"
    )
    return out


def migrate(conn: psycopg.Connection, first_day: datetime.date, days: int) -> None:
    with conn.transaction():
        for statement in (
            *SCHEMA, *POINT_INDEXES, *partition_statements(first_day, days), *row_security(),
        ):  # fmt: skip
            conn.execute(statement)


@dataclass(frozen=True)
class SeedPlan:
    rows: int  # metric points in all
    days: int = 7  # history length, ending now
    series_per_weight: int = 400  # the biggest tenant's series; others by their weight


def _series(population: Population, plan: SeedPlan) -> list[tuple[str, int, str, str]]:
    """(tenant_id, series_id, name, labels JSON), the tenants' sizes following their weights."""
    import json

    largest = max(t.weight for t in population.tenants)
    out = []
    for tenant in population.tenants:
        count = max(4, round(plan.series_per_weight * tenant.weight / largest))
        for index in range(count):
            service = tenant.services[index % len(tenant.services)]
            host = tenant.hosts[index % len(tenant.hosts)]
            name = ("http.server.duration", "process.cpu.utilization", "queue.depth")[index % 3]
            labels = json.dumps({"service.name": service, "host.name": host, "n": index // 3})
            out.append((tenant.tenant_id, index + 1, name, labels))
    return out


def _point_chunks(
    series: list[tuple[str, int, str, str]], weights: np.ndarray, plan: SeedPlan, seed: int,
    chunk: int = 200_000,
) -> Iterator[list[tuple]]:  # fmt: skip
    """Points in chunks: each series gets points by its tenant's weight, spread over the days."""
    rng = np.random.default_rng(seed)
    end = time.time()
    start = end - plan.days * 86_400
    produced = 0
    while produced < plan.rows:
        size = min(chunk, plan.rows - produced)
        which = rng.choice(len(series), size=size, p=weights)
        stamps = rng.uniform(start, end, size=size)
        values = rng.lognormal(3.0, 1.0, size=size)
        yield [
            (series[i][0], series[i][1], datetime.datetime.fromtimestamp(ts, datetime.UTC), v)
            for i, ts, v in zip(which.tolist(), stamps.tolist(), values.tolist(), strict=True)
        ]
        produced += size


def seed(
    dsn: str,
    population: Population,
    plan: SeedPlan,
    progress: Callable[[int, float], None] | None = None,
    seed_value: int = 7,
) -> tuple[int, float]:
    """Migrate, then COPY tenants, users' objects, series and ``plan.rows`` points; returns
    (points written, seconds). ``progress(points so far, seconds so far)`` after each chunk."""
    first_day = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=plan.days)).date()
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        migrate(conn, first_day, plan.days + 2)
        series = _series(population, plan)
        by_tenant = {t.tenant_id: t.weight for t in population.tenants}
        raw = np.array([by_tenant[s[0]] for s in series], dtype=float)
        weights = raw / raw.sum()
        with conn.transaction():
            conn.execute("TRUNCATE metric_points, metric_series, panels, dashboards, alerts, "
                         "sessions, refresh_tokens, api_keys, users, tenants")  # fmt: skip
            load_population(conn, population)
            with conn.cursor().copy(
                "COPY metric_series (tenant_id, series_id, name, labels) FROM STDIN"
            ) as copy:
                for row in series:
                    copy.write_row(row)
        # the points go in first and their indexes are built after: one sorted build instead of
        # a random B-tree insert per row and index (measured: benchmarks/db_seed.py)
        for name in ("metric_points_series_ts_idx", "metric_points_tenant_ts_idx"):
            conn.execute(f"DROP INDEX IF EXISTS {name}")
        written = 0
        for chunk in _point_chunks(series, weights, plan, seed_value):
            with (
                conn.transaction(),
                conn.cursor().copy(
                    "COPY metric_points (tenant_id, series_id, ts, value) FROM STDIN"
                ) as copy,
            ):
                for row in chunk:
                    copy.write_row(row)
            written += len(chunk)
            if progress:
                progress(written, time.perf_counter() - started)
        for statement in POINT_INDEXES:
            conn.execute(statement)
        conn.execute("ANALYZE")
    return written, time.perf_counter() - started


def load_population(conn: psycopg.Connection, population: Population) -> None:
    """Tenants, their accounts, default API keys, dashboards and alerts; rows already there are
    kept, so the platform may start on a seeded database, or again on its own."""
    for tenant in population.tenants:
        conn.execute(
            "INSERT INTO tenants (tenant_id, name, weight) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            (tenant.tenant_id, tenant.name, tenant.weight),
        )
        for account in tenant.accounts:
            user_id = stable_id("usr_", account.username)
            conn.execute(
                "INSERT INTO users (tenant_id, user_id, username, role, password_hash) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (tenant.tenant_id, user_id, account.username, account.role,
                 password_digest(user_id, account.password)),
            )  # fmt: skip
        conn.execute(
            "INSERT INTO api_keys (tenant_id, key_id, key_hash, prefix, name) "
            "VALUES (%s, %s, %s, %s, 'default') ON CONFLICT DO NOTHING",
            (tenant.tenant_id, stable_id("key_", tenant.tenant_id), token_digest(tenant.api_key),
             tenant.api_key[:8]),
        )  # fmt: skip
        objects = seed_objects(tenant)
        for dashboard in objects.dashboards.values():
            insert_dashboard(conn, tenant.tenant_id, dashboard)
        for alert in objects.alerts.values():
            conn.execute(
                "INSERT INTO alerts (tenant_id, alert_id, name, severity, state, summary) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (tenant.tenant_id, alert["id"], alert["name"], alert["severity"], alert["state"],
                 alert["summary"]),
            )  # fmt: skip


INSERT_DASHBOARD = (
    "INSERT INTO dashboards (tenant_id, dashboard_id, title) VALUES (%s, %s, %s) "
    "ON CONFLICT DO NOTHING"
)
INSERT_PANEL = (
    "INSERT INTO panels (tenant_id, dashboard_id, panel_id, title, position, query) "
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)


def panel_rows(tenant_id: str, dashboard: dict) -> list[tuple]:
    return [
        (tenant_id, dashboard["id"], panel["id"], panel["title"], position, Jsonb(panel["query"]))
        for position, panel in enumerate(dashboard["panels"])
    ]


def insert_dashboard(conn: psycopg.Connection, tenant_id: str, dashboard: dict) -> None:
    conn.execute(INSERT_DASHBOARD, (tenant_id, dashboard["id"], dashboard["title"]))
    with conn.cursor() as cursor:
        cursor.executemany(INSERT_PANEL, panel_rows(tenant_id, dashboard))

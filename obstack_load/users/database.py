"""Database workload users: the statements the platform's PostgreSQL sees, driven straight at it.

Two users over the schema ``obstack-load db seed`` creates (``platform/database.py``; the tenancy contract both sides share is ``core/tenant_scope.py``):

- ``MetricsWriterUser`` inserts batches of metric points for its tenant's series, open model
  with ``--arrival-rate`` (iterations/s; ``--db-insert-batch`` points each), so the insert rate
  is held and latency is corrected for coordinated omission as the arrival shape does;
- ``DashboardReaderUser`` runs a fixed 6:1:2:3 rotation: dashboard panel queries (time-bucketed), analytics
  aggregations, a multi-table join, and a read as its tenant's own database role with no
  ``WHERE tenant_id`` at all, where any other tenant's row is a ``CrossTenantLeak``.

Each statement kind is its own request name (``db insert_points``, ``db dashboard_query`` ...),
timed in float milliseconds, with its row count as the response length. Locust's own
``PostgresUser`` reports every statement as one ``execute_query`` in whole milliseconds, so it is
not the base here.
"""

from __future__ import annotations

import datetime
import time
from typing import Any

import psycopg
from locust import User, between, events, task

from obstack_load.core.tenant_scope import as_tenant
from obstack_load.run import arrival
from obstack_load.run.options import add_option, validator
from obstack_load.users.session import CrossTenantLeak
from obstack_load.users.tenancy import assign

REQUEST_TYPE = "SQL"

DASHBOARD_QUERY = (
    "SELECT date_trunc('minute', ts) AS minute, avg(value), max(value) FROM metric_points "
    "WHERE tenant_id = %s AND series_id = %s AND ts > now() - interval '1 hour' "
    "GROUP BY 1 ORDER BY 1"
)
ANALYTICS = (
    "SELECT s.name, count(*), avg(p.value), "
    "percentile_cont(0.95) WITHIN GROUP (ORDER BY p.value) FROM metric_points p "
    "JOIN metric_series s USING (tenant_id, series_id) "
    "WHERE p.tenant_id = %s AND p.ts > now() - interval '6 hours' GROUP BY s.name"
)
JOIN = (
    "SELECT d.title, pa.title, pa.query, count(a.alert_id) FROM dashboards d "
    "JOIN panels pa USING (tenant_id, dashboard_id) "
    "LEFT JOIN alerts a ON a.tenant_id = d.tenant_id AND a.state = 'firing' "
    "WHERE d.tenant_id = %s GROUP BY d.title, pa.title, pa.query"
)
UNSCOPED_READ = "SELECT tenant_id, series_id, name FROM metric_series LIMIT 200"  # no WHERE


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    add_option(
        parser,
        "--db-target",
        "postgresql:// DSN of the database the database users drive (seeded by obstack-load db seed)",
        env="OBSTACK_DB_TARGET",
    )
    add_option(
        parser, "--db-insert-batch", "metric points per insert statement (default 100)", default=100
    )


@validator
def _check(options: Any) -> None:
    from obstack_load.core.config import ConfigError, as_number

    if not getattr(options, "db_target", None):
        raise ConfigError("--db-target", "", "the database users need the database to drive")
    if as_number(options.db_insert_batch, int, "--db-insert-batch", "") < 1:
        raise ConfigError("--db-insert-batch", "", "must be at least 1")
    try:
        parts = psycopg.conninfo.conninfo_to_dict(options.db_target)
    except psycopg.Error as exc:
        raise ConfigError("--db-target", "", f"not a PostgreSQL DSN: {exc}") from None
    # named by host and database, never with the password
    where = f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"
    try:
        psycopg.connect(options.db_target, connect_timeout=5).close()
    except psycopg.Error as exc:
        raise ConfigError("--db-target", "", f"{where}: {' '.join(str(exc).split())}") from None


def connect(dsn: str) -> psycopg.Connection:
    # named, so the database figures know when the run's own connections are gone
    return psycopg.connect(dsn, autocommit=True, application_name="obstack-load")


class DatabaseUser(User):
    abstract = True

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.tenant, self.rng = assign(self.environment)
        self.connection = connect(options.db_target)
        self.series = [
            row[0]
            for row in self.connection.execute(
                "SELECT series_id FROM metric_series WHERE tenant_id = %s", (self.tenant.tenant_id,)
            )
        ]
        arrival.start_on_schedule(self)

    def on_stop(self) -> None:
        self.connection.close()

    def context(self) -> dict:
        return {"tenant": self.tenant.tenant_id, **arrival.context(self)}

    def timed(self, name: str, run) -> Any:
        """Run ``run()``, report it under ``db NAME``, and return its result (None on error)."""
        started = time.perf_counter()
        exception, rows, result = None, 0, None
        try:
            result, rows = run()
        except Exception as exc:  # reported as the request's failure, as Locust's clients do
            exception = exc
        self.environment.events.request.fire(
            request_type=REQUEST_TYPE,
            name=f"db {name}",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=rows,
            exception=exception,
            context=self.context(),
        )
        return result


class MetricsWriterUser(DatabaseUser):
    """Batches of points for this tenant's series; hold the rate with --arrival-rate."""

    wait_time = arrival.wait_time(between(0.05, 0.15))
    weight = 1

    @task
    def insert_points(self) -> None:
        batch = int(self.environment.parsed_options.db_insert_batch)
        now = datetime.datetime.now(datetime.UTC)
        rows = [
            (
                self.tenant.tenant_id,
                self.rng.choice(self.series),
                now,
                self.rng.lognormvariate(3, 1),
            )
            for _ in range(batch)
        ]

        def insert():
            # one COPY in one transaction: a batch is stored whole or not at all, even when the
            # run stops in the middle of it
            with (
                self.connection.transaction(),
                self.connection.cursor().copy(
                    "COPY metric_points (tenant_id, series_id, ts, value) FROM STDIN"
                ) as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return None, len(rows)

        self.timed("insert_points", insert)


class DashboardReaderUser(DatabaseUser):
    """Dashboard panels, analytics, a join, and tenant-scoped reads as the tenant's role."""

    wait_time = between(0.2, 0.6)
    weight = 1

    def on_start(self) -> None:
        super().on_start()
        self.scoped = connect(self.environment.parsed_options.db_target)
        as_tenant(self.scoped, self.tenant.tenant_id)
        self.turn = 0

    def on_stop(self) -> None:
        self.scoped.close()
        super().on_stop()

    def fetch(self, sql: str, params: tuple):
        rows = self.connection.execute(sql, params).fetchall()
        return rows, len(rows)

    # The mix, 6:1:2:3, as a fixed rotation rather than a weighted draw: each kind once first,
    # then the rest of a cycle of 12, so every user runs every kind within its first four
    # statements (a draw left the 1-in-12 analytics out of short runs)
    ROTATION = (
        "dashboard_query", "analytics", "join", "tenant_read",
        "dashboard_query", "tenant_read", "dashboard_query", "join",
        "dashboard_query", "tenant_read", "dashboard_query", "dashboard_query",
    )  # fmt: skip

    @task
    def next_statement(self) -> None:
        kind = self.ROTATION[self.turn % len(self.ROTATION)]
        self.turn += 1
        getattr(self, kind)()

    def dashboard_query(self) -> None:
        series = self.rng.choice(self.series)
        self.timed(
            "dashboard_query", lambda: self.fetch(DASHBOARD_QUERY, (self.tenant.tenant_id, series))
        )

    def analytics(self) -> None:
        self.timed("analytics", lambda: self.fetch(ANALYTICS, (self.tenant.tenant_id,)))

    def join(self) -> None:
        self.timed("join", lambda: self.fetch(JOIN, (self.tenant.tenant_id,)))

    def tenant_read(self) -> None:
        def read():
            rows = self.scoped.execute(UNSCOPED_READ).fetchall()
            others = sorted({r[0] for r in rows} - {self.tenant.tenant_id})
            if others:
                raise CrossTenantLeak(
                    f"an unscoped read as {self.tenant.tenant_id} returned rows of {', '.join(others)}"
                )
            return rows, len(rows)

        self.timed("tenant_read", read)

"""One database statement kind, closed loop with no think time, for one tenant: the Locust half
of benchmarks/db_vs_pgbench.py (pgbench runs the same statement with the same parameters)."""

import os

from locust import constant, task

import obstack_load.results.plugin  # noqa: F401  (the summary)
import obstack_load.run.options  # noqa: F401  (--summary-json)

# a module import: a User class in this namespace would run too
from obstack_load.core.tenants import load_population
from obstack_load.users import database

STATEMENT = os.environ.get("OBSTACK_BENCH_STATEMENT", "dashboard_query")
TENANT = os.environ.get("OBSTACK_BENCH_TENANT", "tenant-01")


class OneStatementUser(database.DatabaseUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        super().on_start()
        # the benchmark's one tenant and its series, as pgbench's script draws them
        self.tenant = load_population().by_id(TENANT)
        self.series = list(range(1, int(os.environ["OBSTACK_BENCH_SERIES"]) + 1))

    def fetch(self, sql: str, params: tuple):
        rows = self.connection.execute(sql, params).fetchall()
        return rows, len(rows)

    @task
    def next_statement(self) -> None:
        if STATEMENT == "dashboard_query":
            series = self.rng.choice(self.series)
            self.timed(
                "dashboard_query",
                lambda: self.fetch(database.DASHBOARD_QUERY, (self.tenant.tenant_id, series)),
            )
        else:
            self.timed("join", lambda: self.fetch(database.JOIN, (self.tenant.tenant_id,)))

"""The platform's PostgreSQL schema and seeder on a real PostgreSQL: Zipf-sized tenants, daily
partitions, and row-level security that holds when a query forgets its tenant."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from obstack_load.core.tenant_scope import as_tenant
from tests.postgres import PASSWORD
from tests.support import REPO, population


@pytest.fixture(scope="module")
def seeded(postgres):
    dsn = postgres.database("platform_seed")
    done = subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", "db", "seed", "--rows", "50000", "--days", "3",
         "--db", dsn], cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "50,000 points in" in done.stdout and "points/s" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr  # the DSN is shown redacted
    return dsn


def test_seed_writes_every_point_with_tenant_sizes_by_weight(seeded):
    tenants = population().tenants
    with psycopg.connect(seeded) as conn:
        total = conn.execute("SELECT COUNT(*) FROM metric_points").fetchone()[0]
        by_tenant = dict(
            conn.execute("SELECT tenant_id, COUNT(*) FROM metric_points GROUP BY 1").fetchall()
        )
        partitions = conn.execute(
            "SELECT COUNT(*) FROM pg_inherits WHERE inhparent = 'metric_points'::regclass"
        ).fetchone()[0]
        users = conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]
    assert total == 50_000 and partitions >= 3
    assert users == sum(len(t.accounts) for t in tenants)
    heaviest = max(tenants, key=lambda t: t.weight).tenant_id
    lightest = min(tenants, key=lambda t: t.weight).tenant_id
    assert by_tenant[heaviest] > 5 * by_tenant.get(lightest, 0)


def test_an_unscoped_query_as_a_tenant_sees_only_its_own_rows(seeded):
    tenant = population().tenants[1].tenant_id
    with psycopg.connect(seeded, autocommit=True) as conn:
        as_tenant(conn, tenant)
        for table in ("metric_points", "metric_series", "dashboards", "alerts", "users"):
            seen = conn.execute(f"SELECT DISTINCT tenant_id FROM {table}").fetchall()  # no WHERE
            assert seen == [(tenant,)], table
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO alerts (tenant_id, alert_id, name, severity, state, summary) "
                "VALUES ('tenant-01', 'x', 'x', 'x', 'x', 'x')"
            )  # another tenant's row is refused by the policy's WITH CHECK


def test_the_query_path_uses_its_index(seeded):
    tenant = population().tenants[0].tenant_id
    with psycopg.connect(seeded) as conn:
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                "EXPLAIN SELECT date_trunc('minute', ts), avg(value) FROM metric_points "
                "WHERE tenant_id = %s AND series_id = 3 AND ts > now() - interval '1 hour' "
                "GROUP BY 1",
                (tenant,),
            )
        )
    assert "metric_points_series_ts_idx" in plan or "Index" in plan, plan

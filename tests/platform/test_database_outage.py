"""The platform on PostgreSQL loses its database mid-run: requests get 503 with Retry-After and
/readyz fails, the process stays up, every point answered 200 is in the table, and once the
database returns the platform serves again without a restart."""

from __future__ import annotations

import random
import subprocess
import sys
import time

import psycopg
import requests

from obstack_load.telemetry import metrics, otlp
from tests.support import REPO, start_platform


def send_points(platform, tenant, rng) -> tuple[int, int]:
    """(status, points in the request)."""
    message = metrics.metrics_request(tenant, rng, 5, {})
    points = otlp.count_items("metrics", message)
    response = requests.post(
        f"{platform.url}/v1/metrics", data=otlp.encode(message),
        headers={"Content-Type": otlp.PROTOBUF, "X-API-Key": tenant.api_key}, timeout=60,
    )  # fmt: skip
    if response.status_code == 503:
        assert response.headers["Retry-After"] == "1"
    return response.status_code, points


def wait_for(predicate, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_losing_the_database_gives_503s_and_the_platform_recovers(postgres, tenants):
    dsn = postgres.database("outage")
    platform = start_platform("--db", dsn, "--db-pool-timeout", "1", "--db-pool-size", "4")
    try:
        tenant, rng = tenants.tenants[0], random.Random(5)
        token = platform.token_for(tenants, 0)
        headers = {"Authorization": f"Bearer {token}"}
        stored = 0
        for _ in range(5):
            status, points = send_points(platform, tenant, rng)
            assert status == 200
            stored += points

        postgres.take_away("outage")
        statuses = []
        for _ in range(6):
            status, points = send_points(platform, tenant, rng)
            statuses.append(status)
            stored += points if status == 200 else 0
        assert statuses.count(503) >= 4, statuses  # each pooled connection may fail once
        assert set(statuses) <= {200, 503}, statuses
        api = requests.get(f"{platform.url}/api/v1/dashboards", headers=headers, timeout=60)
        assert api.status_code == 503 and api.headers["Retry-After"] == "1"
        ready = requests.get(f"{platform.url}/readyz", timeout=60)
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"]["ok"] is False
        assert requests.get(f"{platform.url}/healthz", timeout=60).status_code == 200
        assert platform.process.poll() is None

        postgres.give_back("outage")
        wait_for(lambda: requests.get(f"{platform.url}/readyz", timeout=60).status_code == 200)
        for _ in range(5):
            status, points = send_points(platform, tenant, rng)
            assert status == 200
            stored += points
        assert requests.get(f"{platform.url}/api/v1/dashboards", headers=headers, timeout=60).ok
        with psycopg.connect(dsn) as conn:  # every point answered 200, and only those
            in_table = conn.execute("SELECT count(*) FROM metric_points").fetchone()[0]
        assert in_table == stored
    finally:
        assert platform.stop() == 0, "".join(platform.output)


def test_a_bad_database_is_one_line_before_anything_listens():
    for dsn, expected in (
        ("postgresql://nobody:pw-Secr3t@127.0.0.1:1/none", "--db: 127.0.0.1:1/none:"),
        ("not a dsn", "--db: not a PostgreSQL DSN"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "obstack_load.cli", "platform", "--port", "0", "--db", dsn],
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode != 0
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], done.stderr
        assert "pw-Secr3t" not in done.stderr + done.stdout
        assert "listening" not in done.stdout


def test_a_full_write_queue_is_503_with_nothing_stored(postgres, tenants):
    """Back-pressure: a request whose points do not fit the write queue is refused whole."""
    dsn = postgres.database("backpressure")
    platform = start_platform("--db", dsn, "--db-write-queue", "10")
    try:
        tenant, rng = tenants.tenants[0], random.Random(9)
        status, points = send_points(platform, tenant, rng)  # these fit
        assert status == 200 and points <= 10
        message = metrics.metrics_request(tenant, rng, 40, {})  # these do not
        refused = otlp.count_items("metrics", message)
        assert refused > 10
        response = requests.post(
            f"{platform.url}/v1/metrics", data=otlp.encode(message),
            headers={"Content-Type": otlp.PROTOBUF, "X-API-Key": tenant.api_key}, timeout=60,
        )  # fmt: skip
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        exposition = requests.get(
            f"{platform.url}/metrics", headers={"X-API-Key": tenant.api_key}, timeout=60
        ).text
        assert f"obstack_db_points_refused_queue_full_total {refused:.1f}" in exposition
        assert f"obstack_db_points_written_total {points:.1f}" in exposition
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT count(*) FROM metric_points").fetchone()[0] == points
    finally:
        assert platform.stop() == 0, "".join(platform.output)

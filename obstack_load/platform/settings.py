"""Settings of the reference platform: the one place their defaults and help live.

``obstack-load platform`` makes one command-line option of each field that has an ``option``
in its metadata (``cli.add_platform_options``), so a default is written once, here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def setting(default: Any, option: str = "", help: str = "", metavar: str | None = None) -> Any:
    """A field whose ``option`` (if any) becomes ``--option`` on ``obstack-load platform``."""
    return field(default=default, metadata={"option": option, "help": help, "metavar": metavar})


@dataclass
class PlatformSettings:
    host: str = setting("127.0.0.1", "host", "address to bind")
    port: int = setting(8080, "port", "port; 0 takes a free one")
    tenants_file: str | None = setting(
        None, "tenants-file", "tenants file (default config/tenants.yaml)", "FILE"
    )
    token_ttl_seconds: float = setting(900.0, "token-ttl", "access token lifetime", "SECONDS")
    refresh_ttl_seconds: float = setting(
        86_400.0, "refresh-ttl", "refresh token lifetime", "SECONDS"
    )
    db: str = setting(
        "",
        "db",
        "keep accounts, sessions, keys, dashboards, alerts and metrics in PostgreSQL at this "
        "postgresql:// DSN (default: in memory)",
        "DSN",
    )
    db_pool_size: int = setting(10, "db-pool-size", "database connections in the pool", "N")
    db_pool_timeout: float = setting(
        5.0,
        "db-pool-timeout",
        "longest wait for a pooled connection before answering 503 (statements get twice it)",
        "SECONDS",
    )
    db_write_queue_points: int = setting(
        100_000,
        "db-write-queue",
        "metric points that may wait to be written; past it ingestion gets 503 + Retry-After",
        "POINTS",
    )
    db_write_batch_points: int = 5_000  # the most points one group commit writes
    # after decompression, as OTLP receivers usually do
    max_body_bytes: int = setting(
        4 * 1024 * 1024,
        "max-body-bytes",
        "OTLP body limit after decompression; larger gets 413",
        "BYTES",
    )
    ingest_rate_limit: float = setting(
        0.0,
        "ingest-rate-limit",
        "per-tenant, per-signal items/s, 0 for unlimited; over it gets 429",
        "ITEMS_PER_S",
    )
    retention_seconds: float = setting(
        3600.0, "retention", "drop telemetry older than this", "SECONDS"
    )
    max_log_records_per_tenant: int = setting(
        50_000, "max-log-records", "log records kept per tenant"
    )
    max_traces_per_tenant: int = setting(5_000, "max-traces", "traces kept per tenant")
    max_spans_per_trace: int = 1_000
    max_series_per_tenant: int = setting(
        10_000, "max-series", "metric series per tenant; new series past it are rejected"
    )
    max_points_per_series: int = 720
    live_queue_size: int = 1_000
    sweep_interval_seconds: float = 5.0
    test_stall_after_requests: int = setting(
        0,
        "test-stall-after-requests",
        "testing only: after N requests, stall every request (see --test-stall-seconds)",
        "N",
    )
    test_stall_seconds: float = setting(
        0.0, "test-stall-seconds", "testing only: how long the one stall lasts", "SECONDS"
    )
    test_leak_every: int = setting(
        0,
        "test-leak-every",
        "testing only: every Nth dashboards listing leaks another tenant's dashboard",
        "N",
    )
    test_hide_every: int = setting(
        0,
        "test-hide-every",
        "testing only: every Nth OTLP batch is answered 200 but never stored (usage: hidden)",
        "N",
    )
    test_live_leak_every: int = setting(
        0,
        "test-live-leak-every",
        "testing only: every Nth live-tail message also goes to another tenant's subscribers",
        "N",
    )
    test_live_drop_after: int = setting(
        0,
        "test-live-drop-after",
        "testing only: close every live-tail socket after it has sent N messages",
        "N",
    )
    test_slow_path: str = setting(
        "",
        "test-slow-path",
        "testing only: requests to PATH wait --test-slow-ms first (comma-separated; PATH* "
        "for a prefix, PATH=MS for a delay of its own)",
        "PATHS",
    )
    test_capacity_slots: int = setting(
        0,
        "test-capacity-slots",
        "testing only: serve at most N requests at once, each held --test-service-ms "
        "(a known capacity of N / service time); others queue",
        "N",
    )
    test_service_ms: float = setting(
        0.0, "test-service-ms", "testing only: the service time of --test-capacity-slots", "MS"
    )
    test_cpu_ms: float = setting(
        0.0,
        "test-cpu-ms",
        "testing only: every request but /metrics and /readyz spends MS of CPU on the "
        "event loop first (a target whose limit is its CPU: one core serves ~1000/MS per s)",
        "MS",
    )
    test_slow_ms: float = setting(
        0.0, "test-slow-ms", "testing only: the added latency of --test-slow-path", "MS"
    )
    test_startup_delay: float = setting(
        0.0,
        "test-startup-delay",
        "testing only: wait this long before listening, a known time to come back after a restart",
        "SECONDS",
    )
    test_fault_file: str = setting(
        "",
        "test-fault-file",
        "testing only: while this file holds `ingest-503`, ingestion answers 503 with Retry-After",
        "PATH",
    )
    test_never_recover: bool = setting(
        False,
        "test-never-recover",
        "testing only: once the database has been unavailable, stay unavailable",
    )

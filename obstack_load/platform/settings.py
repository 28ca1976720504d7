"""Settings of the reference platform, set from `obstack-load platform` options."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PlatformSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    tenants_file: str | None = None
    token_ttl_seconds: float = 900.0
    refresh_ttl_seconds: float = 86_400.0
    max_body_bytes: int = 4 * 1024 * 1024  # after decompression, as OTLP receivers usually do
    ingest_rate_limit: float = 0.0  # items/s per tenant and signal; 0 means unlimited
    retention_seconds: float = 3600.0
    max_log_records_per_tenant: int = 50_000
    max_traces_per_tenant: int = 5_000
    max_spans_per_trace: int = 1_000
    max_series_per_tenant: int = 10_000
    max_points_per_series: int = 720
    live_queue_size: int = 1_000
    sweep_interval_seconds: float = 5.0
    # testing only: after this many requests, hold every request for stall_seconds (once)
    test_stall_after_requests: int = 0
    test_stall_seconds: float = 0.0
    # testing only: every Nth dashboards listing also shows another tenant's dashboard (a leak)
    test_leak_every: int = 0

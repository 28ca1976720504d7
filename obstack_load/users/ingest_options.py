"""The ingestion knobs: Locust custom options (web UI, ``--config`` files, ``OBSTACK_OTLP_*``
environment variables) and the validated ``IngestSettings`` the users read them into.

The names follow the OpenTelemetry exporter's where one exists (``--otlp-compression``), so the
same knobs work against the reference platform, an OpenTelemetry Collector or a Loki, Tempo or
Mimir OTLP endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from locust import events

from obstack_load.core.config import ConfigError, as_number, format_duration, parse_duration
from obstack_load.core.tenants import Tenant
from obstack_load.run.options import add_option, option_source
from obstack_load.telemetry import otlp
from obstack_load.telemetry.clock import MODES, TimestampSettings

AUTH_SCHEMES = ("bearer", "x-api-key", "scope-orgid", "scope-orgid-only", "header:NAME")


@dataclass(frozen=True)
class IngestSettings:
    """The ingestion knobs, validated; its defaults are the ``--otlp-*`` options' defaults."""

    batch_size: int = 100
    content_type: str = otlp.PROTOBUF
    gzip: bool = True
    rate_per_user: float = 0.0
    total_rate: float = 0.0
    cardinality: int = 1000
    churn_per_minute: float = 0.0
    timestamps: TimestampSettings = TimestampSettings()
    auth: str = "bearer"
    paths: tuple[tuple[str, str], ...] = tuple(
        (name, signal.path) for name, signal in otlp.SIGNALS.items()
    )
    retries: int = 5
    retry_max_wait_s: float = 30.0
    backoff_s: float = 0.5
    pool_size: int = 64
    pool_refresh_s: float = 30.0
    transport: str = "lean"
    verify: bool = False
    verify_timeout_s: float = 30.0
    verify_poll_s: float = 0.25
    users_per_signal: int = 0

    def path(self, signal: str) -> str:
        return dict(self.paths)[signal]

    def headers(self, tenant: Tenant) -> dict[str, str]:
        """The request headers that carry the content type, compression and the tenant."""
        headers = {"Content-Type": self.content_type}
        if self.gzip:
            headers["Content-Encoding"] = "gzip"
        if self.auth == "bearer":
            headers["Authorization"] = f"Bearer {tenant.api_key}"
        elif self.auth == "x-api-key":
            headers["X-API-Key"] = tenant.api_key
        elif self.auth == "scope-orgid":
            headers["X-Scope-OrgID"] = tenant.tenant_id
            headers["Authorization"] = f"Bearer {tenant.api_key}"
        elif self.auth == "scope-orgid-only":
            headers["X-Scope-OrgID"] = tenant.tenant_id
        else:
            headers[self.auth.split(":", 1)[1]] = tenant.api_key
        return headers


def _encoding(s: IngestSettings) -> str:
    return "json" if s.content_type == otlp.JSON else "protobuf"


# option name -> (its default, read off the settings' defaults; help). Every option also reads
# OBSTACK_<NAME> from the environment (options.add_option).
OPTIONS: dict[str, tuple[Callable[[IngestSettings], Any], str]] = {
    "otlp-batch-size": (lambda s: s.batch_size, "items per request: log records, data points or spans"),
    "otlp-encoding": (_encoding, "protobuf or json (OTLP/JSON with hex ids)"),
    "otlp-compression": (lambda s: "gzip" if s.gzip else "none", "gzip or none"),
    "otlp-rate": (lambda s: s.rate_per_user, "items/s per user (0: as fast as the user can)"),
    "otlp-total-rate": (lambda s: s.total_rate, "items/s per signal across all users and workers (0: no total)"),
    "otlp-cardinality": (lambda s: s.cardinality, "metric series per tenant"),
    "otlp-churn": (lambda s: s.churn_per_minute, "metric series replaced by new ones per minute"),
    "otlp-timestamps": (lambda s: s.timestamps.mode, "now, or backfill (each batch somewhere in --otlp-backfill)"),
    "otlp-backfill": (lambda s: format_duration(s.timestamps.backfill_s), "how far back backfilled timestamps reach"),
    "otlp-out-of-order": (lambda s: s.timestamps.out_of_order, "share (0..1) of items stamped up to --otlp-out-of-order-max earlier"),
    "otlp-out-of-order-max": (lambda s: format_duration(s.timestamps.out_of_order_max_s), "how far back an out-of-order item may be"),
    "otlp-auth": (lambda s: s.auth, "tenant header scheme: " + ", ".join(AUTH_SCHEMES)),
    **{
        f"otlp-{signal}-path": (lambda s, signal=signal: s.path(signal), f"path for {signal}")
        for signal in otlp.SIGNALS
    },
    "otlp-retries": (lambda s: s.retries, "retries of a batch after 429/502/503/504 or a connection error (0: off)"),
    "otlp-retry-max-wait": (lambda s: format_duration(s.retry_max_wait_s), "cap on any one wait, Retry-After included"),
    "otlp-backoff": (lambda s: format_duration(s.backoff_s), "first backoff after an error without Retry-After; doubles, with jitter"),
    "otlp-pool-size": (lambda s: s.pool_size, "distinct pre-built bodies per signal and process (0: build each)"),
    "otlp-pool-refresh": (lambda s: format_duration(s.pool_refresh_s), "every pooled body is rebuilt within this (0: never)"),
    "otlp-transport": (lambda s: s.transport, "lean (geventhttpclient directly) or fasthttp (Locust's FastHttpSession)"),
    "otlp-verify": (lambda s: str(s.verify).lower(), "ingest-then-verify: tag batches and read them back (true/false)"),
    "otlp-verify-timeout": (lambda s: format_duration(s.verify_timeout_s), "how long a tagged batch may take to become visible"),
    "otlp-verify-poll": (lambda s: format_duration(s.verify_poll_s), "how often unverified batches are looked for"),
    "otlp-users-per-signal": (
        lambda s: s.users_per_signal,
        "ingestion users per signal, spawned first, the rest going to the other user classes "
        "(0: every class shares the users by weight)",
    ),
}  # fmt: skip


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:
    defaults = IngestSettings()
    for name, (default, text) in OPTIONS.items():
        value = default(defaults)
        add_option(
            parser,
            f"--{name}",
            text,
            default=f"{value:g}" if isinstance(value, float) else str(value),
        )


def _number(options: Any, name: str, kind: type, low: float, high: float | None = None):
    raw = getattr(options, name.replace("-", "_"))
    value = as_number(raw, kind, option_source(options), name)
    if value < low or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(option_source(options), name, f"must be {span}, got {raw!r}")
    return value


def _duration(options: Any, name: str) -> float:
    raw = getattr(options, name.replace("-", "_"))
    try:
        return parse_duration(str(raw))
    except ValueError as exc:
        raise ConfigError(option_source(options), name, str(exc)) from None


def _choice(options: Any, name: str, choices: tuple[str, ...]) -> str:
    raw = str(getattr(options, name.replace("-", "_"))).strip().lower()
    if raw not in choices:
        raise ConfigError(
            option_source(options), name, f"{raw!r} is not one of {', '.join(choices)}"
        )
    return raw


def settings_from(options: Any) -> IngestSettings:
    """Validated settings; a ``ConfigError`` names the option at fault and where it came from."""
    auth = str(options.otlp_auth).strip()
    if auth.lower() in AUTH_SCHEMES[:-1]:
        auth = auth.lower()
    elif not (auth.lower().startswith("header:") and auth.split(":", 1)[1].strip()):
        raise ConfigError(
            option_source(options), "otlp-auth", f"{auth!r} is not one of {', '.join(AUTH_SCHEMES)}"
        )
    paths = []
    for signal in otlp.SIGNALS:
        path = str(getattr(options, f"otlp_{signal}_path"))
        if not path.startswith("/"):
            raise ConfigError(
                option_source(options), f"otlp-{signal}-path", f"{path!r} must start with /"
            )
        paths.append((signal, path))
    encoding = _choice(options, "otlp-encoding", ("protobuf", "json"))
    return IngestSettings(
        batch_size=_number(options, "otlp-batch-size", int, 1, 100_000),
        content_type=otlp.PROTOBUF if encoding == "protobuf" else otlp.JSON,
        gzip=_choice(options, "otlp-compression", ("gzip", "none")) == "gzip",
        rate_per_user=_number(options, "otlp-rate", float, 0),
        total_rate=_number(options, "otlp-total-rate", float, 0),
        cardinality=_number(options, "otlp-cardinality", int, 1, 10_000_000),
        churn_per_minute=_number(options, "otlp-churn", float, 0),
        timestamps=TimestampSettings(
            mode=_choice(options, "otlp-timestamps", MODES),
            backfill_s=_duration(options, "otlp-backfill"),
            out_of_order=_number(options, "otlp-out-of-order", float, 0, 1),
            out_of_order_max_s=_duration(options, "otlp-out-of-order-max"),
        ),
        auth=auth,
        paths=tuple(paths),
        retries=_number(options, "otlp-retries", int, 0, 1000),
        retry_max_wait_s=_duration(options, "otlp-retry-max-wait"),
        backoff_s=_duration(options, "otlp-backoff"),
        pool_size=_number(options, "otlp-pool-size", int, 0, 100_000),
        pool_refresh_s=_duration(options, "otlp-pool-refresh"),
        transport=_choice(options, "otlp-transport", ("lean", "fasthttp")),
        verify=_choice(options, "otlp-verify", ("true", "false", "on", "off", "1", "0"))
        in ("true", "on", "1"),
        verify_timeout_s=_duration(options, "otlp-verify-timeout"),
        verify_poll_s=_duration(options, "otlp-verify-poll"),
        users_per_signal=_number(options, "otlp-users-per-signal", int, 0, 1_000_000),
    )

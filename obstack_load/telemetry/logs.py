"""Realistic OTLP log batches: structured JSON application logs, access logs, syslog lines and
stack traces, with a realistic spread of severities and trace context on a share of records.

Records differ from each other (ids, paths, users, durations), so a batch compresses like real
logs do (about 5:1 to 15:1 with gzip), not like a repeated line.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber

from obstack_load.core.tenants import Tenant
from obstack_load.telemetry.clock import Clock, TimestampSettings
from obstack_load.telemetry.fleet import SCOPE, Fleet, Instance, attributes, random_id

# (format, weight): most lines are app logs and access logs; stack traces are rare but long
FORMATS = (("json", 50), ("access", 30), ("syslog", 17), ("stacktrace", 3))
SEVERITIES = (  # (number, text, weight) for app and syslog lines
    (SeverityNumber.SEVERITY_NUMBER_DEBUG, "DEBUG", 10),
    (SeverityNumber.SEVERITY_NUMBER_INFO, "INFO", 70),
    (SeverityNumber.SEVERITY_NUMBER_WARN, "WARN", 13),
    (SeverityNumber.SEVERITY_NUMBER_ERROR, "ERROR", 6),
    (SeverityNumber.SEVERITY_NUMBER_FATAL, "FATAL", 1),
)
CLF_TIME = "%d/%b/%Y:%H:%M:%S +0000"  # nginx/apache combined log format
INFO = (SeverityNumber.SEVERITY_NUMBER_INFO, "INFO")
WARN = (SeverityNumber.SEVERITY_NUMBER_WARN, "WARN")
ERROR = (SeverityNumber.SEVERITY_NUMBER_ERROR, "ERROR")
ROUTES = (
    "/api/orders", "/api/orders/{id}", "/api/cart", "/api/cart/items", "/api/users/{id}",
    "/api/search", "/api/catalog/products/{id}", "/api/checkout", "/healthz", "/static/app.js",
)  # fmt: skip
METHODS = (("GET", 70), ("POST", 20), ("PUT", 6), ("DELETE", 4))
STATUSES = (
    (200, 80),
    (201, 5),
    (204, 3),
    (304, 3),
    (400, 3),
    (401, 1),
    (404, 3),
    (500, 1),
    (503, 1),
)
AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "okhttp/4.12.0",
    "python-requests/2.32.3",
    "kube-probe/1.31",
)
APP_MESSAGES = (
    "order placed", "payment authorised", "cache miss, loading from database", "retrying request",
    "user session refreshed", "inventory reserved", "slow query detected", "published event",
    "rate limit approaching", "feature flag evaluated", "connection pool exhausted, waiting",
)  # fmt: skip
EXCEPTIONS = (
    ("java", "java.lang.IllegalStateException", "Order {} is already settled"),
    ("java", "java.sql.SQLTransientConnectionException", "HikariPool-1 - Connection is not available, request timed out after {}ms"),
    ("python", "KeyError", "'customer_{}'"),
    ("python", "TimeoutError", "upstream did not answer within {} ms"),
)  # fmt: skip


def _weighted(pairs):
    values, weights = zip(*pairs, strict=True)
    return list(values), list(weights)


class LogsGenerator:
    def __init__(
        self, fleet: Fleet, rng: random.Random, clock: Clock, trace_share: float = 0.3
    ) -> None:
        self.fleet = fleet
        self.rng = rng
        self.clock = clock
        self.trace_share = trace_share
        self._formats = _weighted(FORMATS)
        self._severities = _weighted(((n, t), w) for n, t, w in SEVERITIES)
        self._methods = _weighted(METHODS)
        self._statuses = _weighted(STATUSES)

    def batch(
        self, count: int, extra: Mapping[str, object] | None = None
    ) -> ExportLogsServiceRequest:
        """``count`` records from one to three pods, oldest first."""
        rng = self.rng
        request = ExportLogsServiceRequest()
        sources = rng.sample(
            self.fleet.instances, min(rng.randint(1, 3), len(self.fleet.instances))
        )
        groups = [
            request.resource_logs.add(resource=instance.resource).scope_logs.add(scope=SCOPE)
            for instance in sources
        ]
        times = self.clock.spread(count, self.clock.batch_end_ns())
        extra_attributes = attributes(extra) if extra else ()
        for index, time_ns in enumerate(times):
            which = index % len(sources)
            instance = sources[which]
            kind = rng.choices(*self._formats)[0]
            severity, body, record_attributes = getattr(self, f"_{kind}")(instance, time_ns)
            record = groups[which].log_records.add(
                time_unix_nano=time_ns,
                observed_time_unix_nano=time_ns + rng.randrange(1_000_000, 50_000_000),
                severity_number=severity[0],
                severity_text=severity[1],
            )
            record.body.string_value = body
            record.attributes.extend(attributes(record_attributes))
            record.attributes.extend(extra_attributes)
            if kind != "syslog" and rng.random() < self.trace_share:
                record.trace_id = random_id(rng, 16)
                record.span_id = random_id(rng, 8)
        return request

    def _request_line(self) -> tuple[str, str, int]:
        rng = self.rng
        route = rng.choice(ROUTES)
        path = route.replace("{id}", str(rng.randint(1, 99_999)))
        return rng.choices(*self._methods)[0], path, rng.choices(*self._statuses)[0]

    def _json(self, instance: Instance, time_ns: int):
        rng = self.rng
        severity = rng.choices(*self._severities)[0]
        line = {
            "ts": time_ns // 1_000_000,
            "level": severity[1].lower(),
            "logger": f"{instance.service}.{rng.choice(('handler', 'service', 'repository', 'client'))}",
            "msg": rng.choice(APP_MESSAGES),
            "order_id": f"ord_{rng.getrandbits(40):010x}",
            "customer_id": rng.randint(1, 250_000),
            "duration_ms": round(rng.lognormvariate(3, 1), 2),
        }
        return severity, json.dumps(line), {"log.record.format": "json"}

    def _access(self, instance: Instance, time_ns: int):
        rng = self.rng
        method, path, status = self._request_line()
        seconds = rng.lognormvariate(-3.5, 1.0)
        client = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        size = 0 if status in (204, 304) else int(rng.lognormvariate(7, 1.2))
        body = (
            f'{client} - - [{time.strftime(CLF_TIME, time.gmtime(time_ns // 1_000_000_000))}] "{method} {path} HTTP/1.1" {status} {size} '
            f'"-" "{rng.choice(AGENTS)}" rt={seconds:.3f}'
        )
        severity = ERROR if status >= 500 else WARN if status >= 400 else INFO
        return (
            severity,
            body,
            {
                "http.request.method": method,
                "url.path": path,
                "http.response.status_code": status,
                "client.address": client,
            },
        )

    def _syslog(self, instance: Instance, time_ns: int):
        rng = self.rng
        severity = rng.choices(*self._severities)[0]
        process = rng.choice(("kubelet", "containerd", "systemd", "sshd", "kernel"))
        body = (
            f"<{rng.choice((30, 29, 28, 27))}>1 {instance.host} {process}[{rng.randint(100, 65_000)}]: "
            f"{rng.choice(APP_MESSAGES)} id={rng.getrandbits(32):08x}"
        )
        return severity, body, {"log.record.format": "syslog", "process.executable.name": process}

    def _stacktrace(self, instance: Instance, time_ns: int):
        rng = self.rng
        language, exc_type, template = rng.choice(EXCEPTIONS)
        message = template.format(rng.randint(1, 99_999))
        frames = rng.randint(4, 12)
        if language == "java":
            lines = [f"{exc_type}: {message}"] + [
                f"\tat com.shop.{instance.service.replace('-', '')}.{rng.choice(('Handler', 'Service', 'Repo'))}"
                f".{rng.choice(('handle', 'process', 'load', 'save'))}({rng.choice(('Handler', 'Service'))}.java:{rng.randint(20, 900)})"
                for _ in range(frames)
            ]
        else:
            lines = (
                ["Traceback (most recent call last):"]
                + [
                    f'  File "/app/{instance.service}/{rng.choice(("api", "service", "db"))}.py", line {rng.randint(10, 600)}, in '
                    f"{rng.choice(('handle', 'process', 'load', 'save'))}"
                    for _ in range(frames)
                ]
                + [f"{exc_type}: {message}"]
            )
        return (
            ERROR,
            "\n".join(lines),
            {
                "exception.type": exc_type,
                "exception.message": message,
                "log.record.format": "stacktrace",
            },
        )


def logs_request(
    tenant: Tenant, rng: random.Random, count: int, extra: Mapping[str, object] | None = None
) -> ExportLogsServiceRequest:
    """One batch of ``count`` records for ``tenant``'s fleet, straight from ``LogsGenerator``:
    the smoke journey and the tests send the same data the ingestion users do."""
    clock = Clock(TimestampSettings(), rng)
    return LogsGenerator(Fleet(rng, namespace=tenant.tenant_id), rng, clock).batch(count, extra)

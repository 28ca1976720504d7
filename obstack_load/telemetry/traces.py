"""Realistic OTLP trace batches: multi-service call trees with HTTP, RPC and database spans.

Each trace starts with an HTTP server span at an edge service. Calls fan out to other services
as a client span in the caller with a server span as its child in the callee, and leaves query
a database. Durations are log-normal and children fit inside their parents. A few calls fail:
the failing span gets an ERROR status and an ``exception`` event, and the error often travels up.
Spans are grouped by the service (resource) that emitted them, as a collector would send them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from obstack_load.core.tenants import Tenant
from obstack_load.telemetry.clock import Clock, TimestampSettings
from obstack_load.telemetry.fleet import SCOPE, Fleet, Instance, attributes, random_id

SERVER = Span.SpanKind.SPAN_KIND_SERVER
CLIENT = Span.SpanKind.SPAN_KIND_CLIENT
INTERNAL = Span.SpanKind.SPAN_KIND_INTERNAL
ERROR = Status.StatusCode.STATUS_CODE_ERROR
ROUTES = (
    "/api/orders",
    "/api/orders/{id}",
    "/api/cart",
    "/api/checkout",
    "/api/search",
    "/api/users/{id}",
)
QUERIES = (
    ("postgresql", "SELECT", "orders", "SELECT id, status, total FROM orders WHERE customer_id = $1"),
    ("postgresql", "INSERT", "order_items", "INSERT INTO order_items (order_id, sku, qty) VALUES ($1, $2, $3)"),
    ("redis", "GET", "sessions", "GET session:*"),
    ("mongodb", "find", "products", "products.find({sku: ?})"),
)  # fmt: skip
ERRORS = (
    ("TimeoutError", "deadline exceeded after 2s"),
    ("ConnectionResetError", "connection reset by peer"),
    ("ValueError", "invalid quantity"),
)


class TracesGenerator:
    def __init__(
        self, fleet: Fleet, rng: random.Random, clock: Clock, error_rate: float = 0.03
    ) -> None:
        self.fleet = fleet
        self.rng = rng
        self.clock = clock
        self.error_rate = error_rate
        self.edge = fleet.services[:2]  # requests enter through the first services

    def batch(
        self, count: int, extra: Mapping[str, object] | None = None, trace_id: bytes | None = None
    ) -> ExportTraceServiceRequest:
        """Whole traces until exactly ``count`` spans (the last trace may be cut short)."""
        request = ExportTraceServiceRequest()
        groups: dict[str, object] = {}
        extra_attributes = attributes(extra) if extra else ()
        remaining = count
        end_ns = self.clock.batch_end_ns()
        while remaining > 0:
            spans: list[tuple[Instance, Span]] = []
            self._trace(spans, min(remaining, self.rng.randint(3, 30)), end_ns, trace_id)
            for instance, span in spans:
                group = groups.get(instance.pod)
                if group is None:
                    group = request.resource_spans.add(resource=instance.resource).scope_spans.add(
                        scope=SCOPE
                    )
                    groups[instance.pod] = group
                added = group.spans.add()
                added.CopyFrom(span)
                added.attributes.extend(extra_attributes)
            remaining -= len(spans)
        return request

    def _pick(self, service: str) -> Instance:
        return self.rng.choice(self.fleet.by_service[service])

    def _trace(self, out: list, budget: int, end_ns: int, trace_id: bytes | None) -> None:
        rng = self.rng
        trace_id = trace_id or random_id(rng, 16)
        route = rng.choice(ROUTES)
        method = rng.choice(("GET", "GET", "GET", "POST"))
        duration = int(rng.lognormvariate(17.5, 0.8))  # median about 40 ms
        start = end_ns - duration - rng.randrange(0, 500_000_000)
        root = Span(
            trace_id=trace_id, span_id=random_id(rng, 8), name=f"{method} {route}", kind=SERVER,
            start_time_unix_nano=start, end_time_unix_nano=start + duration,
        )  # fmt: skip
        root.attributes.extend(
            attributes(
                {
                    "http.request.method": method,
                    "http.route": route,
                    "url.scheme": "https",
                    "server.address": "shop.example.com",
                    "user_agent.original": "Mozilla/5.0",
                    "client.address": f"203.0.113.{rng.randint(1, 254)}",
                }
            )
        )
        edge = self._pick(rng.choice(self.edge))
        out.append((edge, root))
        failed = self._children(out, root, edge, budget - 1, depth=1)
        root.attributes.extend(attributes({"http.response.status_code": 500 if failed else 200}))
        if failed:
            root.status.code = ERROR

    def _children(
        self, out: list, parent: Span, instance: Instance, budget: int, depth: int
    ) -> bool:
        """Add calls below ``parent`` using at most ``budget`` spans; True if an error came back."""
        rng = self.rng
        failed = False
        span_time = parent.end_time_unix_nano - parent.start_time_unix_nano
        cursor = parent.start_time_unix_nano + span_time // 20
        calls = rng.randint(1, 4)
        for _ in range(calls):
            if budget <= 0:
                break
            duration = max(10_000, int(span_time // (calls + 1) * rng.uniform(0.2, 0.9)))
            if depth >= 3 or budget == 1 or rng.random() < 0.35:
                span = self._database_call(parent, cursor, duration)
                out.append((instance, span))
                budget -= 1
            else:
                callee = self._pick(
                    rng.choice([s for s in self.fleet.services if s != instance.service])
                )
                method = rng.choice(("Get", "List", "Reserve", "Charge"))
                span = self._span(parent, f"{callee.service}/{method}", CLIENT, cursor, duration)
                span.attributes.extend(attributes({
                    "rpc.system": "grpc", "rpc.service": callee.service, "rpc.method": method,
                    "server.address": callee.service, "server.port": 50051,
                }))  # fmt: skip
                server = self._span(
                    span, span.name, SERVER, cursor + duration // 20, duration * 9 // 10
                )
                server.attributes.extend(
                    attributes(
                        {"rpc.system": "grpc", "rpc.service": callee.service, "rpc.method": method}
                    )
                )
                out.append((instance, span))
                out.append((callee, server))
                budget -= 2
                before = len(out)
                if self._children(out, server, callee, min(budget, rng.randint(0, 6)), depth + 1):
                    self._fail(server)
                    if rng.random() < 0.6:
                        self._fail(span)
                        failed = True
                budget -= len(out) - before
            if rng.random() < self.error_rate:
                self._fail(span)
                failed = failed or rng.random() < 0.5
            cursor += duration + duration // 10
        return failed

    def _span(self, parent: Span, name: str, kind: int, start: int, duration: int) -> Span:
        return Span(
            trace_id=parent.trace_id, span_id=random_id(self.rng, 8), parent_span_id=parent.span_id,
            name=name, kind=kind, start_time_unix_nano=start, end_time_unix_nano=start + duration,
        )  # fmt: skip

    def _database_call(self, parent: Span, start: int, duration: int) -> Span:
        system, operation, table, text = self.rng.choice(QUERIES)
        span = self._span(parent, f"{operation} {table}", CLIENT, start, duration)
        span.attributes.extend(
            attributes(
                {
                    "db.system.name": system,
                    "db.operation.name": operation,
                    "db.collection.name": table,
                    "db.query.text": text,
                    "server.address": f"{system}.shop.svc",
                }
            )
        )
        return span

    def _fail(self, span: Span) -> None:
        if span.status.code == ERROR:
            return
        exc_type, message = self.rng.choice(ERRORS)
        span.status.code = ERROR
        span.status.message = message
        event = span.events.add(name="exception", time_unix_nano=span.end_time_unix_nano)
        event.attributes.extend(
            attributes(
                {
                    "exception.type": exc_type,
                    "exception.message": message,
                    "exception.stacktrace": f"{exc_type}: {message}\n  at handler (server.py:{self.rng.randint(10, 500)})",
                }
            )
        )


def traces_request(
    tenant: Tenant,
    rng: random.Random,
    spans: int,
    extra: Mapping[str, object] | None = None,
    trace_id: bytes | None = None,
) -> ExportTraceServiceRequest:
    """Exactly ``spans`` spans for ``tenant``'s fleet from ``TracesGenerator``; with ``trace_id``
    every span is in that one trace (what the smoke journey reads back)."""
    fleet = Fleet(rng, namespace=tenant.tenant_id)
    generator = TracesGenerator(fleet, rng, Clock(TimestampSettings(), rng))
    return generator.batch(spans, extra, trace_id)

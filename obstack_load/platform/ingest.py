"""OTLP/HTTP ingestion: ``POST /v1/logs``, ``/v1/metrics`` and ``/v1/traces``.

The server half of the OTLP/HTTP specification: both encodings on one port chosen by
Content-Type, gzip or identity, 413 past the size limit, 415 for an unknown content type, 400 with
a ``google.rpc.Status`` body for an undecodable one, ``partial_success`` for invalid items, and
per-tenant rate limits answered with 429 and ``Retry-After``. Tenants are named by API key only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format
from google.protobuf.any_pb2 import Any as AnyPb
from google.rpc import code_pb2, error_details_pb2, status_pb2
from starlette.requests import Request
from starlette.responses import Response

from obstack_load.platform.api import ingest_tenant
from obstack_load.platform.auth import AuthError
from obstack_load.platform.backend import PointRow, Unavailable
from obstack_load.platform.storage import TenantStore, kv_dict
from obstack_load.telemetry import otlp

if TYPE_CHECKING:
    from obstack_load.platform.state import PlatformState

HTTP_CODES = {
    400: code_pb2.INVALID_ARGUMENT,
    401: code_pb2.UNAUTHENTICATED,
    403: code_pb2.PERMISSION_DENIED,
    413: code_pb2.OUT_OF_RANGE,
    415: code_pb2.INVALID_ARGUMENT,
    429: code_pb2.RESOURCE_EXHAUSTED,
    503: code_pb2.UNAVAILABLE,
}


class OtlpError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def status_response(error: OtlpError, content_type: str) -> Response:
    status = status_pb2.Status(
        code=HTTP_CODES.get(error.status, code_pb2.UNKNOWN), message=error.message
    )
    if error.status == 400:
        detail = error_details_pb2.BadRequest()
        detail.field_violations.add(field="body", description=error.message)
        packed = AnyPb()
        packed.Pack(detail)
        status.details.append(packed)
    if content_type == otlp.JSON:
        body = json_format.MessageToJson(status, indent=None).encode()
    else:
        content_type, body = otlp.PROTOBUF, status.SerializeToString()
    return Response(body, status_code=error.status, media_type=content_type, headers=error.headers)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_body(request: Request, limit: int) -> tuple[bytes, int]:
    """The decompressed body and its size on the wire, enforcing the size limit."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise OtlpError(413, f"body of {declared} bytes exceeds the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise OtlpError(413, f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip":
        try:
            return otlp.decompress(body, limit), size
        except otlp.TooLarge as exc:
            raise OtlpError(413, str(exc)) from None
        except otlp.DecodeFailure as exc:
            raise OtlpError(400, str(exc)) from None
    if encoding not in ("identity", ""):
        raise OtlpError(415, f"unsupported Content-Encoding {encoding!r}; use gzip or identity")
    return body, size


def _valid_ids(trace_id: bytes, span_id: bytes, required: bool) -> bool:
    if required:
        return len(trace_id) == 16 and len(span_id) == 8
    return len(trace_id) in (0, 16) and len(span_id) in (0, 8)


async def store_logs(
    state: PlatformState, store: TenantStore, request: Any, now: float
) -> tuple[int, int]:
    accepted = rejected = 0
    published: list[dict[str, Any]] = []
    for resource_logs in request.resource_logs:
        resource = kv_dict(resource_logs.resource.attributes)
        service = str(resource.get("service.name", "unknown_service"))
        for scope_logs in resource_logs.scope_logs:
            for rec in scope_logs.log_records:
                if (
                    not _valid_ids(rec.trace_id, rec.span_id, False)
                    or not 0 <= rec.severity_number <= 24
                ):
                    rejected += 1
                    continue
                body = rec.body
                text = (
                    body.string_value
                    if body.HasField("string_value")
                    else str(json_format.MessageToDict(body))
                )
                record = {
                    "time_unix_nano": rec.time_unix_nano or rec.observed_time_unix_nano,
                    "severity_number": rec.severity_number,
                    "severity_text": rec.severity_text,
                    "body": text,
                    "attributes": kv_dict(rec.attributes),
                    "resource": resource,
                    "service": service,
                    "trace_id": rec.trace_id.hex(),
                    "span_id": rec.span_id.hex(),
                    "ingested_at": now,
                }
                store.add_log(record)
                published.append(record)
                accepted += 1
    if published:
        state.live.publish(store.tenant_id, published)
    return accepted, rejected


async def store_traces(
    state: PlatformState, store: TenantStore, request: Any, now: float
) -> tuple[int, int]:
    accepted = rejected = 0
    for resource_spans in request.resource_spans:
        resource = kv_dict(resource_spans.resource.attributes)
        service = str(resource.get("service.name", "unknown_service"))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                if (
                    not _valid_ids(span.trace_id, span.span_id, True)
                    or len(span.parent_span_id) not in (0, 8)
                    or span.end_time_unix_nano < span.start_time_unix_nano
                ):
                    rejected += 1
                    continue
                stored = store.add_span(
                    {
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "name": span.name,
                        "kind": span.kind,
                        "service": service,
                        "start_time_unix_nano": span.start_time_unix_nano,
                        "end_time_unix_nano": span.end_time_unix_nano,
                        "duration_ms": (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6,
                        "status_code": span.status.code,
                        "attributes": kv_dict(span.attributes),
                        "events": [
                            {"name": e.name, "attributes": kv_dict(e.attributes)}
                            for e in span.events
                        ],
                    },
                    now,
                )
                if stored:
                    accepted += 1
                else:
                    rejected += 1
    return accepted, rejected


def _metric_points(metric: Any) -> list[tuple[str, Any, float]]:
    """(series name, point, value) for each data point; histograms become _count and _sum."""
    kind = metric.WhichOneof("data")
    out: list[tuple[str, Any, float]] = []
    if kind in ("gauge", "sum"):
        for point in getattr(metric, kind).data_points:
            value = point.as_double if point.WhichOneof("value") == "as_double" else point.as_int
            out.append((metric.name, point, float(value)))
    elif kind in ("histogram", "exponential_histogram", "summary"):
        for point in getattr(metric, kind).data_points:
            out.append((metric.name + "_count", point, float(point.count)))
            out.append((metric.name + "_sum", point, float(point.sum)))
    return out


async def store_metrics(
    state: PlatformState, store: TenantStore, request: Any, now: float
) -> tuple[int, int]:
    """All the request's points go to the backend in one call: stored together, or (503) not
    at all. A point is refused only by the tenant's series limit, or for having no name."""
    accepted = rejected = 0
    rows: list[PointRow] = []
    for resource_metrics in request.resource_metrics:
        resource = kv_dict(resource_metrics.resource.attributes)
        base = {"service.name": resource.get("service.name", "unknown_service")}
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind is None:
                    continue
                points = getattr(metric, kind).data_points
                if not metric.name:
                    rejected += len(points)
                    continue
                accepted += len(points)
                for name, point, value in _metric_points(metric):
                    labels = {**base, **kv_dict(point.attributes)}
                    rows.append(PointRow(name, labels, point.time_unix_nano, value, id(point)))
    refused = await state.backend.add_points(store.tenant_id, rows) if rows else set()
    return accepted - len(refused), rejected + len(refused)


STORERS: dict[
    str, Callable[[PlatformState, TenantStore, Any, float], Awaitable[tuple[int, int]]]
] = {
    "logs": store_logs,
    "metrics": store_metrics,
    "traces": store_traces,
}
REJECT_REASONS = {
    "logs": "invalid trace/span id length or severity number",
    "metrics": "metric without a name, or the tenant's series limit was reached",
    "traces": "invalid trace/span id length, end before start, or the trace is full",
}


def make_handler(signal_name: str) -> Callable:
    signal = otlp.SIGNALS[signal_name]
    storer = STORERS[signal_name]

    async def handle(request: Request) -> Response:
        state: PlatformState = request.app.state.platform
        content_type = _media_type(request)
        try:
            tenant_id = await ingest_tenant(state.backend, request.headers)
            if state.fault_on("ingest-503"):  # test-only: an ingestion 503 storm
                raise Unavailable("ingestion is unavailable (test fault)")
            if content_type not in (otlp.PROTOBUF, otlp.JSON):
                raise OtlpError(415, f"unsupported Content-Type {content_type!r}")
            body, wire_size = await read_body(request, state.settings.max_body_bytes)
            try:
                message = otlp.decode(body, signal.request_type, content_type)
            except otlp.DecodeFailure as exc:
                raise OtlpError(400, str(exc)) from None
            store = state.store(tenant_id)
            usage = store.usage[signal_name]
            usage.requests += 1
            items = otlp.count_items(signal_name, message)
            wait = state.limiter(tenant_id, signal_name).take(items) if items else 0.0
            if wait:
                usage.throttled_requests += 1
                state.metrics.throttled.labels(signal_name).inc()
                retry_after = str(max(1, math.ceil(wait)))
                raise OtlpError(429, "ingestion rate limit exceeded", {"Retry-After": retry_after})
            if state.hides_batch():  # test-only fault: the items vanish after a 200
                accepted, rejected = items, 0
                usage.hidden += items
            else:
                accepted, rejected = await storer(state, store, message, time.time())
        except Unavailable as error:  # nothing of the request was stored: retry it later
            headers = {"Retry-After": str(error.retry_after)}
            return status_response(OtlpError(503, error.message, headers), content_type)
        except OtlpError as error:
            return status_response(error, content_type)
        except AuthError as error:
            return status_response(OtlpError(error.status, error.message), content_type)
        usage.accepted += accepted
        usage.rejected += rejected
        usage.wire_bytes += wire_size
        usage.raw_bytes += len(body)
        state.metrics.accepted.labels(signal_name).inc(accepted)
        state.metrics.rejected.labels(signal_name).inc(rejected)
        response = signal.response_type()
        if rejected:
            partial = response.partial_success
            setattr(partial, signal.rejected_field, rejected)
            partial.error_message = (
                f"{rejected} {signal_name} item(s) rejected: {REJECT_REASONS[signal_name]}"
            )
        return Response(otlp.encode(response, content_type), media_type=content_type)

    handle.__name__ = f"ingest_{signal_name}"
    return handle

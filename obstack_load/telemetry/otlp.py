"""OTLP/HTTP encodings, shared by the suite (encoding) and the reference platform (decoding).

Protobuf uses the official ``opentelemetry-proto`` messages. OTLP/JSON is *not* plain
protobuf-JSON: trace and span ids are hex rather than base64, enums are integers and 64-bit
integers are decimal strings. protobuf's ``json_format`` does the last two for us; the id fields
are the one difference we translate by hand, since no library does it.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId"})


@dataclass(frozen=True)
class Signal:
    name: str
    path: str
    request_type: type[Message]
    response_type: type[Message]
    rejected_field: str  # the partial_success counter for this signal


SIGNALS: dict[str, Signal] = {
    "logs": Signal(
        "logs",
        "/v1/logs",
        logs_service_pb2.ExportLogsServiceRequest,
        logs_service_pb2.ExportLogsServiceResponse,
        "rejected_log_records",
    ),
    "metrics": Signal(
        "metrics",
        "/v1/metrics",
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
        "rejected_data_points",
    ),
    "traces": Signal(
        "traces",
        "/v1/traces",
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
        "rejected_spans",
    ),
}


class DecodeFailure(ValueError):
    """The body is not a valid OTLP message in the declared encoding."""


def _convert_ids(node: Any, convert) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ID_FIELDS and isinstance(value, str):
                node[key] = convert(value)
            elif isinstance(value, dict | list):
                _convert_ids(value, convert)
    elif isinstance(node, list):
        for item in node:
            _convert_ids(item, convert)
    return node


def _b64_to_hex(value: str) -> str:
    return base64.b64decode(value).hex()


def _hex_to_b64(value: str) -> str:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise DecodeFailure(f"id {value!r} is not hex") from None
    return base64.b64encode(raw).decode()


def to_json_dict(message: Message) -> dict[str, Any]:
    data = json_format.MessageToDict(message, use_integers_for_enums=True)
    return _convert_ids(data, _b64_to_hex)


def encode(message: Message, content_type: str = PROTOBUF) -> bytes:
    if content_type == PROTOBUF:
        return message.SerializeToString()
    if content_type == JSON:
        return json.dumps(to_json_dict(message), separators=(",", ":")).encode()
    raise ValueError(f"unsupported content type {content_type!r}")


def decode(body: bytes, message_type: type[Message], content_type: str) -> Message:
    message = message_type()
    try:
        if content_type == PROTOBUF:
            message.ParseFromString(body)
        elif content_type == JSON:
            data = _convert_ids(json.loads(body), _hex_to_b64)
            json_format.ParseDict(data, message, ignore_unknown_fields=True)
        else:
            raise DecodeFailure(f"unsupported content type {content_type!r}")
    except (DecodeError, json_format.ParseError, ValueError, TypeError, binascii.Error) as exc:
        if isinstance(exc, DecodeFailure):
            raise
        raise DecodeFailure(f"cannot decode {content_type} body: {exc}") from None
    return message


def compress(body: bytes, level: int = 1) -> bytes:
    return gzip.compress(body, compresslevel=level, mtime=0)


class TooLarge(ValueError):
    """The decompressed body would exceed the size limit."""


def decompress(body: bytes, limit: int) -> bytes:
    """gunzip without ever holding more than ``limit`` bytes, so a zip bomb cannot hurt."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise DecodeFailure(f"invalid gzip body: {exc}") from None
    if len(out) > limit:
        raise TooLarge(f"decompressed body exceeds {limit} bytes")
    if not inflater.eof:
        raise DecodeFailure("truncated gzip body")
    return out


def count_items(signal: str, request: Message) -> int:
    """Log records, metric data points or spans in an export request."""
    if signal == "logs":
        return sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
    if signal == "traces":
        return sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
    total = 0
    for resource in request.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                kind = metric.WhichOneof("data")
                if kind is not None:
                    total += len(getattr(metric, kind).data_points)
    return total

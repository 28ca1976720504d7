"""Bounded in-memory telemetry storage, one `TenantStore` per tenant.

Every store is bounded twice: by count (deques with ``maxlen``, an LRU of traces, a series limit)
and by age (``sweep`` drops what is older than the retention), so the platform can take load for
hours without exhausting memory. Tenants never share a store, which is what makes cross-tenant
reads impossible by construction.
"""

from __future__ import annotations

import itertools
import re
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from obstack_load.platform.settings import PlatformSettings


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return kv_dict(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind)


def kv_dict(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in pairs}


@dataclass
class Usage:
    """What a tenant sent, per signal: the platform's own accounting, exposed by /api/v1/usage."""

    requests: int = 0
    accepted: int = 0
    rejected: int = 0
    throttled_requests: int = 0
    wire_bytes: int = 0
    raw_bytes: int = 0
    hidden: int = 0  # test-only (--test-hide-every): answered as accepted, never stored

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Series:
    name: str
    labels: dict[str, Any]
    points: deque = field(default_factory=deque)  # (time_unix_nano, value, ingested_at)


class TenantStore:
    def __init__(self, tenant_id: str, settings: PlatformSettings) -> None:
        self.tenant_id = tenant_id
        self.settings = settings
        self.logs: deque[dict[str, Any]] = deque(maxlen=settings.max_log_records_per_tenant)
        # trace id -> span id -> span: a redelivered span (OTLP is at-least-once) replaces itself
        self.traces: OrderedDict[str, dict[str, dict[str, Any]]] = OrderedDict()
        self.trace_ingested_at: dict[str, float] = {}
        self.series: dict[tuple, Series] = {}
        self.series_by_name: dict[str, list[Series]] = {}
        self.usage: dict[str, Usage] = {"logs": Usage(), "metrics": Usage(), "traces": Usage()}
        self._log_seq = itertools.count(1)

    # ---- writes -------------------------------------------------------------------------------

    def add_log(self, record: dict[str, Any]) -> None:
        record["seq"] = next(self._log_seq)
        self.logs.append(record)

    def add_span(self, span: dict[str, Any], now: float) -> bool:
        """Store a span; False when its trace already holds the most spans a trace may have.

        The same span delivered again (a retried or repeated batch) is stored once and accepted.
        """
        trace_id = span["trace_id"]
        spans = self.traces.get(trace_id)
        if spans is None:
            spans = self.traces[trace_id] = {}
            if len(self.traces) > self.settings.max_traces_per_tenant:
                evicted, _ = self.traces.popitem(last=False)
                self.trace_ingested_at.pop(evicted, None)
        elif span["span_id"] not in spans and len(spans) >= self.settings.max_spans_per_trace:
            return False
        else:
            self.traces.move_to_end(trace_id)
        self.trace_ingested_at[trace_id] = now
        spans[span["span_id"]] = span
        return True

    def add_point(
        self, name: str, labels: dict[str, Any], t_ns: int, value: float, now: float
    ) -> bool:
        """Store a data point; False when the tenant's series limit refuses a new series."""
        key = (name, tuple(sorted((k, str(v)) for k, v in labels.items())))
        series = self.series.get(key)
        if series is None:
            if len(self.series) >= self.settings.max_series_per_tenant:
                return False
            series = Series(name, labels, deque(maxlen=self.settings.max_points_per_series))
            self.series[key] = series
            self.series_by_name.setdefault(name, []).append(series)
        series.points.append((t_ns, value, now))
        return True

    def sweep(self, now: float) -> None:
        """Drop everything ingested longer ago than the retention."""
        cutoff = now - self.settings.retention_seconds
        while self.logs and self.logs[0]["ingested_at"] < cutoff:
            self.logs.popleft()
        while self.traces:
            trace_id = next(iter(self.traces))
            if self.trace_ingested_at.get(trace_id, 0) >= cutoff:
                break
            self.traces.popitem(last=False)
            self.trace_ingested_at.pop(trace_id, None)
        for key, series in list(self.series.items()):
            while series.points and series.points[0][2] < cutoff:
                series.points.popleft()
            if not series.points:
                del self.series[key]
                self.series_by_name[series.name].remove(series)
                if not self.series_by_name[series.name]:
                    del self.series_by_name[series.name]

    # ---- reads --------------------------------------------------------------------------------

    def search_logs(
        self,
        *,
        text: str | None,
        attrs: dict[str, str],
        min_severity: int,
        service: str | None,
        start_ns: int,
        end_ns: int,
        limit: int,
        before_seq: int | None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Newest first; returns the page and the cursor of the next page (None at the end)."""
        found: list[dict[str, Any]] = []
        for record in reversed(self.logs):
            if before_seq is not None and record["seq"] >= before_seq:
                continue
            if not start_ns <= record["time_unix_nano"] <= end_ns:
                continue
            if record["severity_number"] < min_severity:
                continue
            if service and record["service"] != service:
                continue
            if text and text not in record["body"]:
                continue
            if attrs and not _attrs_match(record, attrs):
                continue
            if len(found) == limit:
                return found, found[-1]["seq"]
            found.append(record)
        return found, None

    def search_traces(
        self,
        *,
        service: str | None,
        min_ms: float,
        max_ms: float,
        start_ns: int,
        end_ns: int,
        limit: int,
    ) -> list[dict[str, Any]]:
        out = []
        for trace_id in reversed(self.traces):
            summary = trace_summary(trace_id, list(self.traces[trace_id].values()))
            if not start_ns <= summary["start_time_unix_nano"] <= end_ns:
                continue
            if service and service not in summary["services"]:
                continue
            if not min_ms <= summary["duration_ms"] <= max_ms:
                continue
            out.append(summary)
            if len(out) >= limit:
                break
        return out

    def matching_series(self, name: str, matchers: list[Matcher]) -> Iterator[Series]:
        for series in self.series_by_name.get(name, ()):
            if all(m.matches(series.labels) for m in matchers):
                yield series

    def counts(self) -> dict[str, int]:
        return {
            "log_records": len(self.logs),
            "traces": len(self.traces),
            "series": len(self.series),
        }


def _attrs_match(record: dict[str, Any], attrs: dict[str, str]) -> bool:
    for key, wanted in attrs.items():
        value = record["attributes"].get(key, record["resource"].get(key))
        if value is None or str(value) != wanted:
            return False
    return True


def trace_summary(trace_id: str, spans: list[dict[str, Any]]) -> dict[str, Any]:
    start = min(s["start_time_unix_nano"] for s in spans)
    end = max(s["end_time_unix_nano"] for s in spans)
    roots = [s for s in spans if not s["parent_span_id"]]
    root = roots[0] if roots else spans[0]
    return {
        "trace_id": trace_id,
        "root_service": root["service"],
        "root_name": root["name"],
        "services": sorted({s["service"] for s in spans}),
        "span_count": len(spans),
        "error_count": sum(1 for s in spans if s["status_code"] == 2),
        "start_time_unix_nano": start,
        "duration_ms": (end - start) / 1e6,
    }


@dataclass(frozen=True)
class Matcher:
    """A Prometheus-style label matcher: ``label=value``, ``label!=value`` or ``label=~regex``."""

    label: str
    op: str
    value: str
    pattern: re.Pattern | None = None

    @classmethod
    def parse(cls, text: str) -> Matcher:
        match = re.fullmatch(r"\s*([A-Za-z_][\w.]*)\s*(=~|!=|!~|=)\s*(.*?)\s*", text)
        if not match:
            raise ValueError(f"bad label matcher {text!r}; use label=value, !=, =~ or !~")
        label, op, value = match.groups()
        pattern = None
        if op in ("=~", "!~"):
            try:
                pattern = re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad regex in matcher {text!r}: {exc}") from None
        return cls(label, op, value, pattern)

    def matches(self, labels: dict[str, Any]) -> bool:
        actual = str(labels.get(self.label, ""))
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = self.pattern.fullmatch(actual) is not None  # type: ignore[union-attr]
        return hit if self.op == "=~" else not hit


AGGREGATIONS = {
    "avg": lambda values: sum(values) / len(values),
    "sum": sum,
    "min": min,
    "max": max,
    "count": len,
    "last": lambda values: values[-1],
}


def evaluate_query(
    series: Iterable[Series],
    *,
    start_ns: int,
    end_ns: int,
    step_ns: int,
    aggregation: str,
    by: list[str],
) -> list[dict[str, Any]]:
    """Bucket points by step, grouped by the ``by`` labels (or per series), then aggregate."""
    reduce = AGGREGATIONS[aggregation]
    groups: dict[tuple, dict[int, list[float]]] = {}
    group_labels: dict[tuple, dict[str, Any]] = {}
    for item in series:
        labels = {k: item.labels.get(k, "") for k in by} if by else item.labels
        key = tuple(sorted((k, str(v)) for k, v in labels.items()))
        group_labels[key] = labels
        buckets = groups.setdefault(key, {})
        for t_ns, value, _ in item.points:
            if start_ns <= t_ns <= end_ns:
                bucket = start_ns + (t_ns - start_ns) // step_ns * step_ns
                buckets.setdefault(bucket, []).append(value)
    out = []
    for key, buckets in groups.items():
        if not buckets:
            continue
        points = [[t // 1_000_000_000, reduce(vals)] for t, vals in sorted(buckets.items())]
        out.append({"labels": group_labels[key], "points": points})
    return out

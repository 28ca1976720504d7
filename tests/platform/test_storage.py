"""Storage stays bounded by count and by age."""

from __future__ import annotations

from obstack_load.platform.settings import PlatformSettings
from obstack_load.platform.storage import Matcher, TenantStore, evaluate_query


def span(trace: int, start: int = 0, end: int = 1, span_id: int = 1) -> dict:
    return {
        "trace_id": f"{trace:032x}",
        "span_id": f"{span_id:016x}",
        "start_time_unix_nano": start,
        "end_time_unix_nano": end,
    }


def test_a_redelivered_span_is_stored_once_and_accepted():
    """OTLP delivery is at least once: a retried batch must not fill a trace with copies."""
    store = TenantStore("t", PlatformSettings(max_spans_per_trace=2))
    assert all(store.add_span(span(7, span_id=1), 0.0) for _ in range(5))
    assert store.add_span(span(7, span_id=2), 0.0)
    assert not store.add_span(span(7, span_id=3), 0.0), "a full trace refuses a new span"
    assert store.add_span(span(7, span_id=2), 0.0), "but takes a copy of one it holds"
    assert sorted(store.traces[f"{7:032x}"]) == [f"{1:016x}", f"{2:016x}"]


def test_count_bounds():
    store = TenantStore(
        "t",
        PlatformSettings(
            max_log_records_per_tenant=10, max_traces_per_tenant=3, max_series_per_tenant=2
        ),
    )
    for n in range(25):
        store.add_log({"ingested_at": 0.0, "n": n})
        store.add_span(span(n), 0.0)
    assert len(store.logs) == 10 and store.logs[0]["n"] == 15
    assert list(store.traces) == [f"{n:032x}" for n in (22, 23, 24)]
    assert store.add_point("m", {"a": 1}, 1, 1.0, 0.0)
    assert store.add_point("m", {"a": 2}, 1, 1.0, 0.0)
    assert not store.add_point("m", {"a": 3}, 1, 1.0, 0.0), (
        "the series limit refuses a third series"
    )
    assert store.add_point("m", {"a": 1}, 2, 1.0, 0.0), "existing series still take points"


def test_retention_sweep_drops_old_data():
    store = TenantStore("t", PlatformSettings(retention_seconds=100))
    store.add_log({"ingested_at": 10.0})
    store.add_log({"ingested_at": 150.0})
    store.add_span(span(1), 10.0)
    store.add_span(span(2), 150.0)
    store.add_point("old", {}, 1, 1.0, 10.0)
    store.add_point("new", {}, 1, 1.0, 150.0)
    store.sweep(now=200.0)
    assert [r["ingested_at"] for r in store.logs] == [150.0]
    assert list(store.traces) == [f"{2:032x}"]
    assert set(store.series_by_name) == {"new"}


def test_query_buckets_groups_and_matches():
    store = TenantStore("t", PlatformSettings())
    for t in range(10):
        store.add_point("cpu", {"svc": "a", "host": "1"}, t * 1_000_000_000, float(t), 0.0)
        store.add_point("cpu", {"svc": "a", "host": "2"}, t * 1_000_000_000, 10.0, 0.0)
        store.add_point("cpu", {"svc": "b", "host": "1"}, t * 1_000_000_000, 100.0, 0.0)
    series = store.matching_series("cpu", [Matcher.parse("svc=a")])
    result = evaluate_query(
        series,
        start_ns=0,
        end_ns=9_000_000_000,
        step_ns=5_000_000_000,
        aggregation="max",
        by=["svc"],
    )
    assert result == [{"labels": {"svc": "a"}, "points": [[0, 10.0], [5, 10.0]]}]
    regex = list(
        store.matching_series("cpu", [Matcher.parse("host=~1|2"), Matcher.parse("svc!=b")])
    )
    assert len(regex) == 2

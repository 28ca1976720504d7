"""The listener's arrays and raw-row blocks: shipped whole, bounded by row, never misaligned."""

from __future__ import annotations

from array import array
from types import SimpleNamespace

from locust.stats import RequestStats

from obstack_load.results.node import NodeRecorder
from obstack_load.results.rows import RawRows, RowBlock, unship
from obstack_load.results.writer import Outbox


def test_shipped_rows_arrive_whole_and_grouped():
    raw = RawRows()
    raw.add("GET", "/a", None, 10.0, 1.5, 100)
    raw.add("GET", "/a", None, 11.0, 2.5, 200)
    raw.add("GET", "/a", "HTTP 503", 12.0, 3.5, 0)
    assert raw.count == 3
    blocks = unship(raw.ship(), "run9", "worker-1")
    assert raw.count == 0 and raw.groups == {}, "shipping starts afresh"
    rows = sorted(row for block in blocks for row in block.tuples())
    assert rows == [
        ("run9", 10.0, "worker-1", "GET", "/a", 1.5, 100, True, None),
        ("run9", 11.0, "worker-1", "GET", "/a", 2.5, 200, True, None),
        ("run9", 12.0, "worker-1", "GET", "/a", 3.5, 0, False, "HTTP 503"),
    ]


def test_outbox_drops_rows_past_its_bound_and_counts_them():
    outbox = Outbox(max_request_rows=5)
    block = RowBlock("r", "n", "GET", "/a", None, array("d", [1.0, 2.0, 3.0] * 4))
    outbox.add_requests([block, block])
    assert outbox.request_rows == 5 and outbox.dropped == 3
    assert [len(b) for b in outbox.requests] == [4, 1]
    batch, written, _failed = outbox.take()
    assert sum(len(b) for b in batch.requests) == 5
    written()
    assert outbox.request_rows == 0 and outbox.pending() == 0


def test_a_failed_write_keeps_the_rows():
    outbox = Outbox(max_request_rows=100)
    outbox.add_requests([RowBlock("r", "n", "GET", "/a", None, array("d", [1.0, 2.0, 3.0]))])
    batch, _written, failed = outbox.take()
    failed()
    assert outbox.request_rows == 1 and len(outbox.requests) == 1


def test_listener_counts_a_bad_value_as_dropped_and_keeps_its_arrays_aligned():
    stats = RequestStats()  # the process's Locust stats, counting as Locust does
    recorder = NodeRecorder()
    recorder.configure(
        SimpleNamespace(results_requests="all", results_interval=5.0, results_buffer_rows=100),
        "worker-1",
        "worker",
        stats,
    )
    for rt, exception, items in [
        (2.0, None, 5),
        (3.0, None, "five"),
        (4.0, RuntimeError("boom"), 1),
    ]:
        stats.log_request("POST", "/v1/logs", rt, 10)
        if exception is not None:
            stats.log_error("POST", "/v1/logs", exception)
        recorder.on_request("POST", "/v1/logs", rt, 10, exception, {"obstack_items": items})
    recorder.on_request("POST", "/v1/logs", "slow", 10, None, None)  # not a number: no row
    shipped = recorder.ship()
    assert shipped["dropped"] == 2
    (interval,) = shipped["intervals"]
    count, failures, total_ms, _low, _high, size, items, _histogram = interval[3]
    assert (count, failures, total_ms, size, items) == (3, 1, 9.0, 30, 6)
    rows = sorted(r for b in unship(shipped["requests"], "run", "worker-1") for r in b.tuples())
    assert [(r[5], r[7], r[8]) for r in rows] == [
        (2.0, True, None),
        (3.0, True, None),
        (4.0, False, "RuntimeError('boom')"),
    ]

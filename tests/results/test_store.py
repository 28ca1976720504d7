"""Both stores: migrations, exactly-once batches, upserts, and no password in any message."""

from __future__ import annotations

from array import array

import pytest

from obstack_load.results.queries import run_report
from obstack_load.results.rows import RowBlock
from obstack_load.results.schema import INGEST_COUNTS, LATEST_VERSION, MIGRATIONS
from obstack_load.results.store import Batch, StoreError, open_store, redact


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        target = str(tmp_path / "results.db")
    else:
        server = request.getfixturevalue("postgres")
        target = server.dsn
    opened = open_store(target)
    if request.param == "postgresql":  # a clean slate per test on the shared server
        for table in {t.name for migration in MIGRATIONS for t in migration.tables}:
            opened.fetch(f"DROP TABLE IF EXISTS {table}")
        opened.fetch("DROP TABLE IF EXISTS schema_migrations")
        opened.conn.commit()
    yield opened
    opened.close()


def batch(batch_id: str, run_id: str = "run1") -> Batch:
    return Batch(
        batch_id,
        runs=[
            {
                "run_id": run_id,
                "label": "nightly",
                "tags": {"env": "ci"},
                "started_at": 100.0,
                "ended_at": 110.0,
                "status": "finished",
                "generator_bound": False,
            }
        ],
        requests=[RowBlock(run_id, "local", "GET", "/x", None, array("d", [101.0, 12.5, 10] * 3))],
        intervals=[
            (
                run_id,
                100.0,
                5.0,
                "GET",
                "/x",
                3,
                1,
                10.0,
                12.0,
                14.0,
                12,
                14,
                14,
                14,
                36.0,
                30,
                0,
                '{"10": 1, "12": 1, "14": 1}',
            )
        ],
        errors=[(run_id, "GET", "/x", "HTTP 500", 1, 101.0, 101.0)],
    )


def test_migrate_is_idempotent(store):
    assert store.migrate() == len(MIGRATIONS)
    assert store.migrate() == 0
    assert store.fetch("SELECT MAX(version) AS v FROM schema_migrations")[0]["v"] == LATEST_VERSION


def test_ingest_counts_upsert_to_the_latest_totals(store):
    store.migrate()
    width = len(INGEST_COUNTS.columns) - 3
    store.write(Batch("i1", ingest=[("run1", "logs", "t1", *([1] * width))]))
    store.write(
        Batch(
            "i2",
            ingest=[
                ("run1", "logs", "t1", *([5] * width)),
                ("run1", "traces", "t1", *([2] * width)),
            ],
        )
    )
    rows = store.fetch("SELECT signal, sent_items, lost_items FROM ingest_counts ORDER BY signal")
    assert [(r["signal"], r["sent_items"], r["lost_items"]) for r in rows] == [
        ("logs", 5, 5),
        ("traces", 2, 2),
    ]


def test_batches_are_written_exactly_once_and_errors_upsert(store):
    store.migrate()
    assert store.write(batch("b1"))
    assert not store.write(batch("b1")), "a retried batch must not be written twice"
    again = batch("b2")
    again.requests, again.intervals = [], []
    again.errors = [("run1", "GET", "/x", "HTTP 500", 5, 99.0, 120.0)]
    assert store.write(again)
    assert store.fetch("SELECT COUNT(*) AS n FROM requests")[0]["n"] == 3
    error = store.fetch("SELECT occurrences, first_seen, last_seen FROM errors")[0]
    assert (error["occurrences"], error["first_seen"], error["last_seen"]) == (5, 99.0, 120.0)
    report = run_report(store, "run1")
    assert report["totals"]["requests"] == 3 and report["totals"]["failures"] == 1
    assert report["totals"]["p50_ms"] == 12 and report["run"]["tags"] == {"env": "ci"}


def test_unreachable_postgres_message_hides_password():
    with pytest.raises(StoreError) as caught:
        open_store("postgresql://load:Very-Secret-9@127.0.0.1:1/results")
    message = str(caught.value)
    assert "Very-Secret-9" not in message
    assert "postgresql://load:***@127.0.0.1:1/results" in message
    assert "\n" not in message
    assert redact("host=db password=abc dbname=r") == "host=db password=*** dbname=r"


def test_raw_rows_read_back_exactly(store):
    """Every column of every raw row, through binary COPY (PostgreSQL) or executemany (SQLite)."""
    store.migrate()
    blocks = [
        RowBlock("run1", "worker-a", "POST", "/v1/logs", None, array("d", [1.5, 0.25, 0, 2.0, 7.0, 2**40])),
        RowBlock("run1", "worker-b", "GET", "/api/é", "HTTP 500: Ünicode", array("d", [3.0, 99.5, 17])),
        RowBlock("run1", "worker-b", "GET", "/empty", "x", array("d")),
    ]  # fmt: skip
    assert store.write(Batch("raw", requests=blocks))
    rows = store.fetch(
        "SELECT run_id, ts, node, method, name, response_time_ms, response_length, success, error "
        "FROM requests ORDER BY ts"
    )
    got = [(*r.values(),) for r in rows]
    want = [row for block in blocks for row in block.tuples()]
    assert [(*row[:7], bool(row[7]), row[8]) for row in got] == sorted(want, key=lambda r: r[1])
    assert store.fetch("SELECT rows FROM written_batches WHERE batch_id = 'raw'")[0]["rows"] == 3

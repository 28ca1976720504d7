"""The one writer: an outbox the listeners fill, drained into the store by a single greenlet.

Listeners only append to memory. The writer copies a batch off the head of the outbox, writes
it, and removes it only once the store has committed it, so a failed write loses nothing: it is
retried, with backoff, on a fresh connection. Raw request rows are bounded; past the bound they
are counted as dropped rather than growing memory. SQLite writes run in gevent's native thread
pool, PostgreSQL writes cooperate with gevent, so the load never waits on the database.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import Event

from obstack_load.results.rows import RowBlock
from obstack_load.results.store import Batch, Store, StoreError

logger = logging.getLogger("obstack_load.results")
MAX_BATCH_REQUEST_ROWS = 50_000


class Outbox:
    def __init__(self, max_request_rows: int) -> None:
        self.max_request_rows = max_request_rows
        self.requests: deque[RowBlock] = deque()
        self.request_rows = 0  # rows in self.requests
        self.intervals: deque[tuple] = deque()
        self.user_counts: deque[tuple] = deque()
        self.system: deque[tuple] = deque()
        self.runs: dict[str, dict[str, Any]] = {}
        self.dirty_runs: set[str] = set()
        self.errors: dict[tuple, list] = {}  # (run, method, name, error) -> [count, first, last]
        self.dirty_errors: set[tuple] = set()
        self.thresholds: deque[tuple] = deque()
        self.ingest: dict[tuple, tuple] = {}  # (run, signal, tenant) -> latest row
        self.dirty_ingest: set[tuple] = set()
        self.dropped = 0

    def add_requests(self, blocks: list[RowBlock]) -> None:
        for block in blocks:
            rows = len(block)
            room = max(self.max_request_rows - self.request_rows, 0)
            if room < rows:
                self.dropped += rows - room
                block, rows = block.head(room), room
            if rows:
                self.requests.append(block)
                self.request_rows += rows

    def set_run(self, run: dict[str, Any]) -> None:
        self.runs[run["run_id"]] = dict(run)
        self.dirty_runs.add(run["run_id"])

    def set_ingest(self, row: tuple) -> None:
        self.ingest[row[:3]] = row
        self.dirty_ingest.add(row[:3])

    def count_error(
        self, run_id: str, method: str, name: str, error: str, count: int, first: float, last: float
    ) -> None:
        key = (run_id, method, name, error)
        entry = self.errors.get(key)
        if entry is None:
            self.errors[key] = [count, first, last]
        else:
            entry[0] += count
            entry[1] = min(entry[1], first)
            entry[2] = max(entry[2], last)
        self.dirty_errors.add(key)

    def pending(self) -> int:
        return (
            self.request_rows + len(self.intervals) + len(self.user_counts) + len(self.system)
            + len(self.thresholds) + len(self.dirty_runs) + len(self.dirty_errors)
            + len(self.dirty_ingest)
        )  # fmt: skip

    def take(self) -> tuple[Batch, Callable[[], None], Callable[[], None]]:
        """A batch from the head of the outbox, plus what to do once it is written or failed."""
        runs = sorted(self.dirty_runs)
        errors = sorted(self.dirty_errors)
        ingest = sorted(self.dirty_ingest)
        self.dirty_runs.clear()
        self.dirty_errors.clear()
        self.dirty_ingest.clear()
        blocks: list[RowBlock] = []
        block_rows = 0
        for block in self.requests:  # whole blocks, up to about MAX_BATCH_REQUEST_ROWS rows
            if block_rows >= MAX_BATCH_REQUEST_ROWS:
                break
            blocks.append(block)
            block_rows += len(block)
        batch = Batch(
            batch_id=uuid.uuid4().hex,
            runs=[dict(self.runs[r]) for r in runs],
            requests=blocks,
            intervals=list(self.intervals),
            user_counts=list(self.user_counts),
            system=list(self.system),
            errors=[(*key, *self.errors[key]) for key in errors],
            thresholds=list(self.thresholds),
            ingest=[self.ingest[key] for key in ingest],
        )
        counts = {
            "requests": len(blocks), "intervals": len(batch.intervals),
            "user_counts": len(batch.user_counts), "system": len(batch.system),
            "thresholds": len(batch.thresholds),
        }  # fmt: skip

        def written() -> None:
            for name, count in counts.items():
                queue: deque = getattr(self, name)
                for _ in range(count):
                    queue.popleft()
            self.request_rows -= block_rows

        def failed() -> None:
            self.dirty_runs.update(runs)
            self.dirty_errors.update(errors)
            self.dirty_ingest.update(ingest)

        return batch, written, failed

    def drain(self) -> list[Batch]:
        """Everything still here, as batches, leaving the outbox empty (for the spool)."""
        batches = []
        while self.pending():
            batch, written, _ = self.take()
            written()
            batches.append(batch)
        return batches


def _write_returning_error(store: Store, batch: Batch) -> Exception | None:
    try:
        store.write(batch)
    except Exception as exc:
        return exc
    return None


class ResultsWriter:
    def __init__(
        self, connect: Callable[[], Store], outbox: Outbox, flush_interval: float = 2.0
    ) -> None:
        self.connect = connect
        self.outbox = outbox
        self.flush_interval = flush_interval
        self.store: Store | None = None
        self.greenlet: gevent.Greenlet | None = None
        self.wake = Event()
        self.idle = Event()
        self.failures = 0
        self.last_error: str | None = None
        self.rows_written = 0

    def start(self) -> None:
        if self.greenlet is None or self.greenlet.dead:
            self.greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        backoff = 0.5
        while True:
            self.wake.wait(timeout=self.flush_interval)
            self.wake.clear()
            try:
                while self.outbox.pending():
                    self.idle.clear()
                    self._write_one()
                backoff = 0.5
                self.idle.set()
            except StoreError as exc:
                self._lost(exc)
                gevent.sleep(backoff)  # back off, then retry the same rows on a new connection
                backoff = min(backoff * 2, 10.0)
                self.wake.set()
            except Exception as exc:  # never let the writer die: the rows are still in the outbox
                logger.exception("obstack-load results: unexpected writer error")
                self._lost(exc)
                gevent.sleep(backoff)
                self.wake.set()

    def _write_one(self) -> None:
        if self.store is None:
            self.store = self.connect()
        batch, written, failed = self.outbox.take()
        try:
            if self.store.blocking:
                # the error comes back as a value: raised inside the thread, gevent would print
                # its traceback too (a full disk would print one per retry)
                error = gevent.get_hub().threadpool.apply(
                    _write_returning_error, (self.store, batch)
                )
                if error is not None:
                    raise error
            else:
                self.store.write(batch)
        except BaseException:
            failed()
            raise
        written()
        self.rows_written += batch.size()

    def _lost(self, exc: Exception) -> None:
        self.failures += 1
        message = str(exc)
        if message != self.last_error:
            logger.warning("obstack-load results: database unavailable, buffering (%s)", message)
        self.last_error = message
        if self.store is not None:
            with contextlib.suppress(Exception):
                self.store.close()
            self.store = None

    def stop(self) -> None:
        """Stop writing (before the outbox is spooled): nothing is written after this."""
        if self.greenlet is not None:
            self.greenlet.kill(block=True)
            self.greenlet = None

    def flush(self, timeout: float) -> bool:
        """Ask for a write now and wait until the outbox is empty; False on timeout."""
        self.start()
        with gevent.Timeout(timeout, False):
            while self.outbox.pending():
                self.idle.clear()
                self.wake.set()
                self.idle.wait(timeout=1.0)
            return True
        return False

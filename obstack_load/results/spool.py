"""The spool: rows the results database never took, kept in a local file to load later.

When the database is still away after the end-of-run wait (or the disk under SQLite is full),
every unwritten batch, the run's own row among them, goes to one JSON-lines file instead of
being lost. ``obstack-load results replay SPOOL`` writes it into a database later. Each batch
keeps the id it was spooled with and the store records every batch id it commits
(``written_batches``), so a replay is exactly once: a second one adds nothing.

The first line describes the spool; each further line is one batch. Raw request rows keep their
block form (``rows.RowBlock``), their numbers as base64 of the float64s. No password is written:
the database is named by its redacted location.
"""

from __future__ import annotations

import base64
import json
import os
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from obstack_load.core.config import ConfigError
from obstack_load.results.rows import RowBlock
from obstack_load.results.store import Batch, Store

FORMAT = "obstack-load spool 1"
TUPLE_FIELDS = ("intervals", "user_counts", "system", "errors", "thresholds", "ingest")


@dataclass
class SpoolHeader:
    run_id: str | None
    location: str  # the database the rows were meant for, password removed
    created_at: float
    batches: int
    rows: int


def _block(block: RowBlock) -> dict[str, Any]:
    return {
        "run_id": block.run_id, "node": block.node, "method": block.method, "name": block.name,
        "error": block.error, "values": base64.b64encode(block.values.tobytes()).decode("ascii"),
    }  # fmt: skip


def _unblock(data: dict[str, Any]) -> RowBlock:
    values = array("d")
    values.frombytes(base64.b64decode(data["values"]))
    return RowBlock(
        data["run_id"], data["node"], data["method"], data["name"], data["error"], values
    )


def write_spool(path: Path, batches: list[Batch], run_id: str | None, location: str) -> Path:
    """Write ``batches`` to ``path`` whole or not at all (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = SpoolHeader(
        run_id, location, time.time(), len(batches), sum(b.size() for b in batches)
    )
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"format": FORMAT, **vars(header)}) + "\n")
        for batch in batches:
            line = {
                "batch_id": batch.batch_id,
                "runs": batch.runs,
                "requests": [_block(b) for b in batch.requests],
                **{name: getattr(batch, name) for name in TUPLE_FIELDS},
            }
            out.write(json.dumps(line, default=str) + "\n")
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)
    return path


def _open(path: Path) -> tuple[SpoolHeader, TextIO]:
    """The spool's header, and the file positioned at its first batch."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read spool ({exc.strerror})") from None
    try:
        header = json.loads(handle.readline())
    except ValueError:
        header = {}
    if not isinstance(header, dict) or header.pop("format", None) != FORMAT:
        handle.close()
        raise ConfigError(path, "", "not an obstack-load spool file")
    return SpoolHeader(**header), handle


def spool_header(path: str | Path) -> SpoolHeader:
    """What a spool holds and for which database; a ``ConfigError`` when it is not a spool."""
    header, handle = _open(Path(path))
    handle.close()
    return header


def read_spool(path: str | Path) -> Iterator[Batch]:
    """The spool's batches, in the order they were spooled."""
    path = Path(path)
    _, handle = _open(path)
    with handle:
        for number, line in enumerate(handle, start=2):
            try:
                data = json.loads(line)
            except ValueError:
                raise ConfigError(path, f"line {number}", "not a spooled batch") from None
            yield Batch(
                batch_id=data["batch_id"],
                runs=data["runs"],
                requests=[_unblock(b) for b in data["requests"]],
                **{name: [tuple(row) for row in data[name]] for name in TUPLE_FIELDS},
            )


def replay(store: Store, path: str | Path) -> tuple[int, int, int]:
    """Write a spool into ``store``: (batches written, batches already there, rows written)."""
    written = skipped = rows = 0
    for batch in read_spool(path):
        if store.write(batch):
            written += 1
            rows += batch.size()
        else:
            skipped += 1
    return written, skipped, rows

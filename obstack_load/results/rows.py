"""Raw request rows, held as numbers in arrays.

The ``request`` listener runs for every request on the load generator's one core, so when every
row is kept it only appends three floats (ts, response time, length) to an ``array`` per
(method, name, error): no Python object per request, nothing for the garbage collector to
track. The rows travel as blocks that share their text fields, shipped as bytes and COPYed into
PostgreSQL in one binary body (``binary_copy``).
Measured in ``benchmarks/raw_rows_path.py``: the tuple-per-request design cost about 0.6 µs
per row in psycopg's ``write_row`` alone, and 2 µs on the master once unpacked from msgpack.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

VALUES_PER_ROW = 3  # a raw row's numbers: ts, response_time_ms, response_length

# Column order of a binary COPY row: the block's shared text first, then the three numbers.
COPY_COLUMNS = (
    "run_id", "node", "method", "name", "success", "error", "ts", "response_time_ms",
    "response_length",
)  # fmt: skip
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
COPY_TRAILER = b"\xff\xff"
_NUMBERS = [
    ("ts_size", ">i4"), ("ts", ">f8"), ("rt_size", ">i4"), ("rt", ">f8"),
    ("length_size", ">i4"), ("length", ">i8"),
]  # fmt: skip

GroupKey = tuple[str, str, str | None]  # method, name, error (None for a success)


@dataclass(slots=True)
class RowBlock:
    """Rows that share everything but their numbers; ``values`` holds them interleaved."""

    run_id: str
    node: str
    method: str
    name: str
    error: str | None
    values: array

    def __len__(self) -> int:
        return len(self.values) // VALUES_PER_ROW

    def head(self, rows: int) -> RowBlock:
        return RowBlock(
            self.run_id, self.node, self.method, self.name, self.error,
            self.values[: rows * VALUES_PER_ROW],
        )  # fmt: skip

    def tuples(self) -> Iterator[tuple]:
        """Rows in the ``requests`` table's column order (for SQLite and for reading back)."""
        values = self.values
        success = self.error is None
        for i in range(0, len(values), VALUES_PER_ROW):
            yield (
                self.run_id, values[i], self.node, self.method, self.name, values[i + 1],
                int(values[i + 2]), success, self.error,
            )  # fmt: skip


def drop_partial_row(values: array) -> None:
    """Undo the numbers an ``extend`` with a value that was not a number left of its row."""
    del values[len(values) - len(values) % VALUES_PER_ROW :]


class RawRows:
    """Raw rows grouped by (method, name, error), waiting to be shipped to the writer.

    The listener adds each kept request here as it comes: a failure with its error text, a
    success (when every row is kept) under the error None.
    """

    def __init__(self) -> None:
        self.groups: dict[GroupKey, array] = {}
        self.count = 0

    def add(
        self, method: str, name: str, error: str | None, ts: float, response_time: float, size: int
    ) -> None:
        values = self._group(method, name, error)
        try:
            values.extend((ts, response_time, size))
        except TypeError:  # a value that was not a number
            drop_partial_row(values)
            raise
        self.count += 1

    def _group(self, method: str, name: str, error: str | None) -> array:
        values = self.groups.get((method, name, error))
        if values is None:
            values = self.groups[(method, name, error)] = array("d")
        return values

    def ship(self) -> list[list]:
        """Every group as [method, name, error, little-endian float64 bytes]; starts afresh."""
        shipped = []
        for (method, name, error), values in self.groups.items():
            if sys.byteorder == "big":
                values.byteswap()
            shipped.append([method, name, error, values.tobytes()])
        self.groups, self.count = {}, 0
        return shipped


def unship(shipped: list[list], run_id: str, node: str) -> list[RowBlock]:
    blocks = []
    for method, name, error, data in shipped:
        values = array("d")
        values.frombytes(data)
        if sys.byteorder == "big":
            values.byteswap()
        blocks.append(RowBlock(run_id, node, method, name, error, values))
    return blocks


def _field(value: str | None) -> bytes:
    if value is None:
        return b"\xff\xff\xff\xff"  # NULL
    data = value.encode()
    return struct.pack(">i", len(data)) + data


def binary_copy(blocks: list[RowBlock]) -> bytes:
    """A whole PostgreSQL binary COPY body for ``COPY requests (COPY_COLUMNS)``.

    Written here rather than by psycopg's ``write_row`` because that encodes row by row (about
    0.6 µs each, on the load generator's core); every row of a block shares its text fields, so
    they are encoded once and numpy lays out the numbers of all rows at once. The format is
    PostgreSQL's documented one: a signature, then per row a field count and per field a
    length and big-endian value, then a trailer.
    """
    parts = [COPY_SIGNATURE]
    for block in blocks:
        if not len(block):
            continue
        success = b"\x00\x00\x00\x01" + (b"\x01" if block.error is None else b"\x00")
        prefix = (
            struct.pack(">h", len(COPY_COLUMNS))
            + b"".join(_field(v) for v in (block.run_id, block.node, block.method, block.name))
            + success
            + _field(block.error)
        )
        numbers = np.frombuffer(block.values, dtype=np.float64).reshape(-1, VALUES_PER_ROW)
        rows = np.empty(len(numbers), dtype=np.dtype([("prefix", "u1", len(prefix)), *_NUMBERS]))
        rows["prefix"] = np.frombuffer(prefix, dtype=np.uint8)
        rows["ts_size"] = rows["rt_size"] = rows["length_size"] = 8
        rows["ts"] = numbers[:, 0]
        rows["rt"] = numbers[:, 1]
        rows["length"] = numbers[:, 2]
        parts.append(rows.tobytes())
    parts.append(COPY_TRAILER)
    return b"".join(parts)

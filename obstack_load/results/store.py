"""Result stores: PostgreSQL through psycopg 3 (COPY) and embedded SQLite (executemany).

A store writes whole `Batch`es, each in one transaction together with its batch id, so a batch
retried after a lost connection is written exactly once: the id is checked first.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from obstack_load.core.errors import ObstackLoadError
from obstack_load.results.rows import COPY_COLUMNS, RowBlock, binary_copy
from obstack_load.results.schema import (
    ERRORS,
    INGEST_COUNTS,
    MIGRATIONS,
    REQUEST_INTERVALS,
    REQUESTS,
    RUNS,
    SCHEMA_MIGRATIONS,
    SYSTEM_METRICS,
    TEST_CASES,
    TEST_SUITE_RUNS,
    THRESHOLD_RESULTS,
    USER_COUNTS,
    WRITTEN_BATCHES,
    Table,
)

DEFAULT_SQLITE_PATH = "results/obstack-results.db"


class StoreError(ObstackLoadError, RuntimeError):
    """The results database cannot be reached or written; the message holds no password."""


@dataclass
class Batch:
    """Rows to write together. Row values are plain scalars: JSON columns arrive as JSON text,
    because converting value by value here would cost on every row. Raw request rows come in
    blocks (see results/rows.py)."""

    batch_id: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    requests: list[RowBlock] = field(default_factory=list)
    intervals: list[tuple] = field(default_factory=list)
    user_counts: list[tuple] = field(default_factory=list)
    system: list[tuple] = field(default_factory=list)
    errors: list[tuple] = field(default_factory=list)
    thresholds: list[tuple] = field(default_factory=list)
    ingest: list[tuple] = field(default_factory=list)  # upserted: the run's totals so far

    def appended_tables(self) -> list[tuple[Table, list[tuple]]]:
        return [
            (REQUEST_INTERVALS, self.intervals),
            (USER_COUNTS, self.user_counts),
            (SYSTEM_METRICS, self.system),
        ]

    def size(self) -> int:
        parts = (
            self.runs,
            self.intervals,
            self.user_counts,
            self.system,
            self.errors,
            self.thresholds,
            self.ingest,
        )
        return sum(len(p) for p in parts) + sum(len(block) for block in self.requests)


POSTGRES_SCHEMES = ("postgresql", "postgres")
MASK = "***"


def is_postgres(target: str) -> bool:
    return (
        target.startswith(tuple(f"{s}://" for s in POSTGRES_SCHEMES))
        or "host=" in target
        or "dbname=" in target
    )


def check_target(target: str | None) -> None:
    """A ``StoreError`` for a location that is neither a PostgreSQL DSN nor a file path."""
    target = target or DEFAULT_SQLITE_PATH
    scheme, sep, _ = target.partition("://")
    if sep and scheme.lower() not in POSTGRES_SCHEMES:
        raise StoreError(
            f"{scheme}:// is not supported: give a postgresql:// DSN or an SQLite file path"
        )
    if is_postgres(target):
        from psycopg.conninfo import conninfo_to_dict

        try:
            conninfo_to_dict(target)
        except Exception:
            raise StoreError("not a valid PostgreSQL DSN (psycopg cannot parse it)") from None


def secrets_of(target: str) -> list[str]:
    """Every password that could show: the DSN's own, in whatever form psycopg accepts it (URL
    userinfo, a ``password`` query parameter, ``key=value`` conninfo), and ``PGPASSWORD``."""
    found = []
    if is_postgres(target):
        from psycopg.conninfo import conninfo_to_dict

        try:
            password = conninfo_to_dict(target).get("password")
        except Exception:
            password = None
        if password:
            found.append(str(password))
    if os.environ.get("PGPASSWORD"):
        found.append(os.environ["PGPASSWORD"])
    return found


def redact(target: str) -> str:
    """The database location with any password removed: safe for logs, reports and the DB.

    psycopg's own parser finds the password; the location keeps its form (URL or conninfo)."""
    if not is_postgres(target):
        return target
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        params = conninfo_to_dict(target)
    except Exception:
        return "(a PostgreSQL DSN psycopg cannot parse)"  # it may hold a password: never shown
    if "password" not in params:
        shown = target
    elif "://" in target:
        parts = urlsplit(target)
        netloc = parts.netloc
        if parts.password is not None:
            host = netloc.rpartition("@")[2]
            netloc = f"{parts.username or ''}:{MASK}@{host}"
        query = urlencode(
            [
                (k, MASK if k == "password" else v)
                for k, v in parse_qsl(parts.query, keep_blank_values=True)
            ],
            safe="*/",
        )
        shown = urlunsplit(parts._replace(netloc=netloc, query=query))
    elif params["password"] and params["password"] in target:
        shown = target.replace(params["password"], MASK)  # keeps the user's own order
    else:  # quoted or escaped in the text: rebuild it (libpq's order)
        shown = make_conninfo(**{**params, "password": MASK})
    return _scrub(shown, target)


def _scrub(message: str, target: str) -> str:
    message = " ".join(str(message).split())  # one line
    for secret in secrets_of(target):
        message = message.replace(secret, MASK)
    return message


class Store:
    dialect = ""
    placeholder = "?"
    least, greatest = "min", "max"
    blocking = True  # True: run writes in a native thread so gevent's loop never waits

    def __init__(self, target: str) -> None:
        self.target = target
        self.location = redact(target)

    # ---- subclasses ---------------------------------------------------------------------------
    def _execute(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _executemany(self, sql: str, rows: list[tuple]) -> None:
        raise NotImplementedError

    def _append(self, table: Table, rows: list[tuple]) -> None:
        self._executemany(self._insert_sql(table), rows)

    def _append_requests(self, blocks: list[RowBlock]) -> None:
        self._executemany(
            self._insert_sql(REQUESTS), [row for block in blocks for row in block.tuples()]
        )

    def _transaction(self):
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # ---- shared -------------------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return sql.replace("?", self.placeholder)

    def _insert_sql(self, table: Table, conflict: str = "") -> str:
        cols = table.column_names
        marks = ", ".join([self.placeholder] * len(cols))
        return f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({marks}) {conflict}"

    def fetch(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        try:
            return self._execute(self._sql(sql), params)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(_scrub(f"{self.location}: {exc}", self.target)) from None

    def migrate(self) -> int:
        """Apply the migrations this database lacks; returns how many were applied."""
        try:
            with self._transaction():
                for statement in SCHEMA_MIGRATIONS.create(self.dialect):
                    self._execute(statement)
                rows = self._execute(
                    "SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations"
                )
                current = int(rows[0]["version"])
                applied = 0
                for migration in MIGRATIONS:
                    if migration.version <= current:
                        continue
                    for statement in migration.sql(self.dialect):
                        self._execute(statement)
                    self._execute(
                        self._sql(
                            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)"
                        ),
                        (migration.version, migration.description, time.time()),
                    )
                    applied += 1
            return applied
        except Exception as exc:
            raise StoreError(
                _scrub(f"{self.location}: cannot migrate: {exc}", self.target)
            ) from None

    def write(self, batch: Batch) -> bool:
        """Write the batch in one transaction; False if it had been written already."""
        try:
            with self._transaction():
                seen = self._execute(
                    self._sql("SELECT 1 AS seen FROM written_batches WHERE batch_id = ?"),
                    (batch.batch_id,),
                )
                if seen:
                    return False
                for run in batch.runs:
                    self._upsert_run(run)
                if batch.requests:
                    self._append_requests(batch.requests)
                for table, rows in batch.appended_tables():
                    if rows:
                        self._append(table, rows)
                if batch.errors:
                    self._executemany(
                        self._insert_sql(
                            ERRORS,
                            "ON CONFLICT (run_id, method, name, error) DO UPDATE SET "
                            "occurrences = excluded.occurrences, "
                            f"first_seen = {self.least}(errors.first_seen, excluded.first_seen), "
                            f"last_seen = {self.greatest}(errors.last_seen, excluded.last_seen)",
                        ),
                        batch.errors,
                    )
                for table, rows in (
                    (THRESHOLD_RESULTS, batch.thresholds),
                    (INGEST_COUNTS, batch.ingest),
                ):
                    if rows:
                        self._upsert_rows(table, rows)
                run_id = batch.runs[0]["run_id"] if batch.runs else None
                self._execute(
                    self._insert_sql(WRITTEN_BATCHES),
                    (batch.batch_id, run_id, time.time(), batch.size()),
                )
            return True
        except Exception as exc:
            raise StoreError(_scrub(f"{self.location}: write failed: {exc}", self.target)) from None

    def import_suite(self, suite: tuple, cases: list[tuple]) -> bool:
        """Store one imported test-suite run and its cases, in one transaction; False if that
        suite run (the same id: the same files) was imported before."""
        try:
            with self._transaction():
                seen = self._execute(
                    self._sql("SELECT 1 AS seen FROM test_suite_runs WHERE suite_run_id = ?"),
                    (suite[0],),
                )
                if seen:
                    return False
                self._execute(self._insert_sql(TEST_SUITE_RUNS), suite)
                if cases:
                    self._executemany(self._insert_sql(TEST_CASES), cases)
            return True
        except Exception as exc:
            raise StoreError(
                _scrub(f"{self.location}: import failed: {exc}", self.target)
            ) from None

    def record(self, rows: Mapping[Table, Sequence[tuple]]) -> int:
        """A plugin's rows, all in one transaction: each table is made if it is new (a plugin
        owns its ``Table``; nothing here changes for a new one), rows with a primary key replace
        those already there. Returns how many rows were written."""
        try:
            with self._transaction():
                for table, table_rows in rows.items():
                    for statement in table.create(self.dialect):
                        self._execute(statement)
                    values = [tuple(_db_value(v) for v in row) for row in table_rows]
                    if not values:
                        continue
                    if table.primary_key:
                        self._upsert_rows(table, values)
                    else:
                        self._executemany(self._insert_sql(table), values)
            return sum(len(r) for r in rows.values())
        except Exception as exc:
            raise StoreError(_scrub(f"{self.location}: write failed: {exc}", self.target)) from None

    def _upsert_rows(self, table: Table, rows: list[tuple]) -> None:
        """Insert rows, or replace the non-key columns of rows already there."""
        keys = table.primary_key
        updates = ", ".join(f"{c} = excluded.{c}" for c in table.column_names if c not in keys)
        conflict = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
        self._executemany(self._insert_sql(table, conflict), rows)

    def _upsert_run(self, run: dict[str, Any]) -> None:
        columns = RUNS.column_names
        values = tuple(_db_value(run.get(c)) for c in columns)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
        self._execute(
            self._insert_sql(RUNS, f"ON CONFLICT (run_id) DO UPDATE SET {updates}"), values
        )


def _db_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return value


class _NoTransaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN")
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")


class SqliteStore(Store):
    dialect = "sqlite"

    def __init__(self, target: str) -> None:
        super().__init__(target)
        path = Path(target)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # autocommit off by hand (isolation_level=None) so BEGIN/COMMIT are ours; the writer
            # uses this connection from one native thread at a time, hence check_same_thread=False.
            self.conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{target}: cannot open SQLite database: {exc}") from None
        self.conn.row_factory = sqlite3.Row

    def _execute(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self.conn.execute(sql, params).fetchall()]

    def _executemany(self, sql: str, rows: list[tuple]) -> None:
        self.conn.executemany(sql, rows)

    def _transaction(self):
        return _NoTransaction(self.conn)

    def close(self) -> None:
        self.conn.close()


class PostgresStore(Store):
    dialect = "postgresql"
    placeholder = "%s"
    least, greatest = "LEAST", "GREATEST"
    blocking = False  # psycopg 3 cooperates with gevent: it waits on patched sockets

    def __init__(self, target: str, connect_timeout: int = 5) -> None:
        super().__init__(target)
        import psycopg
        from psycopg.rows import dict_row

        try:
            self.conn = psycopg.connect(
                target,
                connect_timeout=connect_timeout,
                application_name="obstack-load",
                row_factory=dict_row,
            )
        except Exception as exc:
            raise StoreError(_scrub(f"{self.location}: cannot connect: {exc}", target)) from None

    def _execute(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        with self.conn.cursor() as cursor:
            cursor.execute(sql, params or None)
            return list(cursor.fetchall()) if cursor.description else []

    def _executemany(self, sql: str, rows: list[tuple]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(sql, rows)

    def _append(self, table: Table, rows: list[tuple]) -> None:
        """COPY: one round trip for the whole batch, the reason psycopg was chosen. Text COPY
        lets PostgreSQL convert the values (JSON text, floats in BIGINT columns); these tables
        get a few rows per interval, so psycopg's row-by-row encoding costs nothing here."""
        columns = ", ".join(table.column_names)
        with (
            self.conn.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def _append_requests(self, blocks: list[RowBlock]) -> None:
        """Raw rows: one binary COPY body for every block (built by ``rows.binary_copy``)."""
        columns = ", ".join(COPY_COLUMNS)
        with (
            self.conn.cursor() as cursor,
            cursor.copy(f"COPY {REQUESTS.name} ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.write(binary_copy(blocks))

    def _transaction(self):
        return self.conn.transaction()

    def close(self) -> None:
        self.conn.close()


def open_store(target: str | None, create: bool = True) -> Store:
    """The store at ``target``; with ``create=False`` an SQLite file that does not exist is an
    error rather than a new, empty database (for commands that only read)."""
    target = target or DEFAULT_SQLITE_PATH
    check_target(target)
    if is_postgres(target):
        return PostgresStore(target)
    if not create and not Path(target).is_file():
        raise StoreError(f"{target}: no results database there (no such file)")
    return SqliteStore(target)


def open_for_reading(target: str | None) -> Store:
    """A store that must already exist and hold the results schema: read-only commands never
    create a database, nor tables in one."""
    store = open_store(target, create=False)
    try:
        store.fetch("SELECT COUNT(*) AS n FROM runs")
    except Exception:
        store.close()
        raise StoreError(
            f"{store.location}: holds no obstack-load results (run `obstack-load db migrate "
            "--results-db ...` to create the schema)"
        ) from None
    return store


def open_migrated(target: str | None) -> Store:
    """A store with its schema brought up to date: what every reader and writer starts with."""
    store = open_store(target)
    try:
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store

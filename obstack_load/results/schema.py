"""The results schema, versioned, with migrations for PostgreSQL and SQLite.

Times are unix seconds (double precision) in both backends, so one query shape serves both and
pandas reads them directly. Documented in docs/results-schema.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

from obstack_load.core.ledger import IngestCounts

INGEST_COUNT_FIELDS = tuple(f.name for f in fields(IngestCounts))

# Generic column types, rendered per dialect below.
TYPES = {
    "postgresql": {
        "text": "TEXT",
        "real": "DOUBLE PRECISION",
        "int": "BIGINT",
        "bool": "BOOLEAN",
        "json": "JSONB",
    },
    "sqlite": {"text": "TEXT", "real": "REAL", "int": "INTEGER", "bool": "INTEGER", "json": "TEXT"},
}


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]
    primary_key: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def create(self, dialect: str) -> list[str]:
        cols = [f"{name} {TYPES[dialect][kind]}" for name, kind in self.columns]
        if self.primary_key:
            cols.append(f"PRIMARY KEY ({', '.join(self.primary_key)})")
        statements = [f"CREATE TABLE IF NOT EXISTS {self.name} ({', '.join(cols)})"]
        for index in self.indexes:
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {self.name}_{'_'.join(index)}_idx ON {self.name} ({', '.join(index)})"
            )
        return statements


RUNS = Table(
    "runs",
    (
        ("run_id", "text"), ("label", "text"), ("tags", "json"), ("profile", "text"),
        ("locustfile", "text"), ("user_classes", "json"), ("users", "int"), ("spawn_rate", "real"),
        ("host", "text"), ("git_revision", "text"), ("suite_version", "text"),
        ("locust_version", "text"), ("started_at", "real"), ("ended_at", "real"),
        ("status", "text"), ("exit_code", "int"), ("thresholds_verdict", "text"),
        ("options", "json"), ("total_requests", "int"), ("total_failures", "int"),
        ("dropped_rows", "int"), ("generator_bound", "bool"), ("max_cpu_percent", "real"),
        ("notes", "json"),
    ),
    primary_key=("run_id",),
    indexes=(("started_at",), ("label",)),
)  # fmt: skip
REQUESTS = Table(
    "requests",
    (
        ("run_id", "text"), ("ts", "real"), ("node", "text"), ("method", "text"), ("name", "text"),
        ("response_time_ms", "real"), ("response_length", "int"), ("success", "bool"), ("error", "text"),
    ),
    indexes=(("run_id", "ts"),),
)  # fmt: skip
REQUEST_INTERVALS = Table(
    "request_intervals",
    (
        ("run_id", "text"), ("ts", "real"), ("interval_s", "real"), ("method", "text"), ("name", "text"),
        ("count", "int"), ("failures", "int"), ("min_ms", "real"), ("avg_ms", "real"), ("max_ms", "real"),
        ("p50_ms", "real"), ("p90_ms", "real"), ("p95_ms", "real"), ("p99_ms", "real"),
        ("total_ms", "real"), ("bytes", "int"), ("items", "int"), ("histogram", "json"),
    ),
    indexes=(("run_id", "name"),),
)  # fmt: skip
USER_COUNTS = Table(
    "user_counts",
    (("run_id", "text"), ("ts", "real"), ("user_count", "int"), ("by_class", "json")),
    indexes=(("run_id", "ts"),),
)
ERRORS = Table(
    "errors",
    (
        ("run_id", "text"), ("method", "text"), ("name", "text"), ("error", "text"),
        ("occurrences", "int"), ("first_seen", "real"), ("last_seen", "real"),
    ),
    primary_key=("run_id", "method", "name", "error"),
)  # fmt: skip
SYSTEM_METRICS = Table(
    "system_metrics",
    (
        ("run_id", "text"), ("ts", "real"), ("node", "text"), ("role", "text"),
        ("cpu_percent", "real"), ("memory_rss_bytes", "int"), ("memory_percent", "real"),
    ),
    indexes=(("run_id", "node"),),
)  # fmt: skip
THRESHOLD_RESULTS = Table(
    "threshold_results",
    (
        ("run_id", "text"), ("expression", "text"), ("scope", "text"), ("observed", "real"),
        ("passed", "bool"), ("evaluated_at", "real"), ("detail", "text"), ("level", "text"),
    ),
    primary_key=("run_id", "expression", "scope"),
)  # fmt: skip
# Version 1's shape: the level (pass, warn, fail) came with version 3.
THRESHOLD_RESULTS_V1 = dataclasses.replace(
    THRESHOLD_RESULTS, columns=THRESHOLD_RESULTS.columns[:-1]
)
WRITTEN_BATCHES = Table(
    "written_batches",
    (("batch_id", "text"), ("run_id", "text"), ("written_at", "real"), ("rows", "int")),
    primary_key=("batch_id",),
)
INGEST_COUNTS = Table(
    "ingest_counts",
    (
        ("run_id", "text"), ("signal", "text"), ("tenant_id", "text"),
        *((name, "int") for name in INGEST_COUNT_FIELDS),
    ),
    primary_key=("run_id", "signal", "tenant_id"),
)  # fmt: skip
TEST_SUITE_RUNS = Table(
    "test_suite_runs",
    (
        ("suite_run_id", "text"), ("suite", "text"), ("label", "text"), ("git_revision", "text"),
        ("started_at", "real"), ("duration_s", "real"), ("tests", "int"), ("passed", "int"),
        ("failed", "int"), ("errors", "int"), ("skipped", "int"), ("source", "text"),
        ("imported_at", "real"),
    ),
    primary_key=("suite_run_id",),
    indexes=(("suite", "started_at"),),
)  # fmt: skip
TEST_CASES = Table(
    "test_cases",
    (
        ("suite_run_id", "text"), ("classname", "text"), ("name", "text"), ("outcome", "text"),
        ("duration_s", "real"), ("message", "text"),
    ),
    indexes=(("suite_run_id",), ("classname", "name")),
)  # fmt: skip
CAPACITY_STEPS = Table(
    "capacity_steps",
    (
        ("run_id", "text"), ("step", "int"), ("offered_rate", "real"), ("achieved_rps", "real"),
        ("seconds", "real"), ("requests", "int"), ("failures", "int"), ("p95_ms", "real"),
        ("passed", "bool"), ("settled", "bool"), ("generator_cpu", "real"),
        ("late_ratio", "real"), ("target_cpu", "real"), ("pool_utilization", "real"),
        ("generator_bound", "bool"), ("detail", "json"),
    ),
    primary_key=("run_id", "step"),
)  # fmt: skip
CAPACITY_FINDINGS = Table(
    "capacity_findings",
    (
        ("run_id", "text"), ("capacity", "real"), ("upper", "real"), ("outcome", "text"),
        ("limit_kind", "text"), ("generator_bound", "bool"), ("knee", "real"),
        ("slos", "json"), ("words", "text"),
    ),
    primary_key=("run_id",),
)  # fmt: skip
MONITOR_SAMPLES = Table(
    "monitor_samples",
    (
        ("run_id", "text"), ("probe", "text"), ("ts", "real"), ("ok", "bool"),
        ("latency_ms", "real"), ("healthy", "bool"), ("detail", "text"), ("value", "real"),
    ),
    indexes=(("run_id", "probe", "ts"),),
)  # fmt: skip
# Version 6's shape: the value of a --monitor-series sample came with version 8.
MONITOR_SAMPLES_V6 = dataclasses.replace(MONITOR_SAMPLES, columns=MONITOR_SAMPLES.columns[:-1])
CHAOS_RESULTS = Table(
    "chaos_results",
    (
        ("run_id", "text"), ("title", "text"), ("source", "text"), ("passed", "bool"),
        ("reason", "text"), ("recovery_s", "real"), ("data_accepted", "int"),
        ("data_found", "int"), ("data_lost", "int"), ("score", "real"), ("detail", "json"),
    ),
    primary_key=("run_id",),
)  # fmt: skip
SCHEMA_MIGRATIONS = Table(
    "schema_migrations",
    (("version", "int"), ("description", "text"), ("applied_at", "real")),
    primary_key=("version",),
)

TABLES_V1 = (
    RUNS,
    REQUESTS,
    REQUEST_INTERVALS,
    USER_COUNTS,
    ERRORS,
    SYSTEM_METRICS,
    THRESHOLD_RESULTS_V1,
    WRITTEN_BATCHES,
)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    tables: tuple[Table, ...] = ()
    statements: tuple[str, ...] = ()  # extra SQL valid in both dialects

    def sql(self, dialect: str) -> list[str]:
        out = [s for table in self.tables for s in table.create(dialect)]
        return out + list(self.statements)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", TABLES_V1),
    Migration(2, "ingestion counts per run, signal and tenant", (INGEST_COUNTS,)),
    Migration(
        3,
        "threshold levels: pass, warn or fail",
        statements=("ALTER TABLE threshold_results ADD COLUMN level TEXT",),
    ),
    Migration(
        4, "other test suites' results, imported from JUnit XML", (TEST_SUITE_RUNS, TEST_CASES)
    ),
    Migration(
        5, "capacity searches: their steps and findings", (CAPACITY_STEPS, CAPACITY_FINDINGS)
    ),
    Migration(6, "the health monitor's probes", (MONITOR_SAMPLES_V6,)),
    Migration(7, "chaos experiments: verdict, recovery time, data lost", (CHAOS_RESULTS,)),
    Migration(
        8,
        "the monitor's series of the target's /metrics",
        statements=("ALTER TABLE monitor_samples ADD COLUMN value REAL",),
    ),
)
LATEST_VERSION = MIGRATIONS[-1].version

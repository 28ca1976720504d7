"""Diagnostics: the suite's ingestion users with no results or thresholds plugin loaded."""

from obstack_load.users.ingest import LogsIngestUser, MetricsIngestUser, TracesIngestUser  # noqa: F401

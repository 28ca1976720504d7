"""Database workload: inserts held at a rate, dashboard queries, analytics, joins and
tenant-scoped reads, straight against the platform's PostgreSQL (--db-target)."""

from obstack_load.plugins import ProfileShape  # noqa: F401  (every plugin, and --load-shape)
from obstack_load.users.database import DashboardReaderUser, MetricsWriterUser  # noqa: F401

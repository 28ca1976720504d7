"""Database workload: inserts held at a rate, dashboard queries, analytics, joins and
tenant-scoped reads, straight against the platform's PostgreSQL (--db-target)."""

import obstack_load.dbfigures  # noqa: F401  (index use, cache hits and top statements, as deltas)
import obstack_load.history_ui  # noqa: F401  (a History tab and /history pages in the web UI)
import obstack_load.options  # noqa: F401  (--tenants-file, --seed, --summary-json)
import obstack_load.results.plugin  # noqa: F401  (Test Results Database; also the summary)
import obstack_load.thresholds.plugin  # noqa: F401  (--threshold SLO gates and the exit code)
from obstack_load.shapes import ProfileShape  # noqa: F401  (--load-shape: stages, step, spike)
from obstack_load.users.database import DashboardReaderUser, MetricsWriterUser  # noqa: F401

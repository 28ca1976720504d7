"""High-volume OTLP ingestion: logs, metrics and traces users posting realistic batches.

Pick classes on the command line (``locust -f locustfiles/ingest.py LogsIngestUser``) or run all
three by their weights. Knobs: ``--otlp-*`` (``locust -f locustfiles/ingest.py --help``).
"""

from obstack_load.plugins import ProfileShape  # noqa: F401  (every plugin, and --load-shape)
from obstack_load.users.ingest import (  # noqa: F401  (also registers the --otlp-* options)
    LogsIngestUser,
    MetricsIngestUser,
    TracesIngestUser,
)

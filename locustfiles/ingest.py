"""High-volume OTLP ingestion: logs, metrics and traces users posting realistic batches.

Pick classes on the command line (``locust -f locustfiles/ingest.py LogsIngestUser``) or run all
three by their weights. Knobs: ``--otlp-*`` (``locust -f locustfiles/ingest.py --help``).
"""

import obstack_load.chaos.monitor  # noqa: F401  (--monitor: health probes beside the run)
import obstack_load.chaos.plugin  # noqa: F401  (--chaos-experiment: a chaos experiment under load)
import obstack_load.history_ui  # noqa: F401  (a History tab and /history pages in the web UI)
import obstack_load.ingest_ui  # noqa: F401  (an Ingestion tab in the web UI)
import obstack_load.options  # noqa: F401  (--tenants-file, --seed, --summary-json)
import obstack_load.results.plugin  # noqa: F401  (Test Results Database; also the summary)
import obstack_load.thresholds.plugin  # noqa: F401  (--threshold SLO gates and the exit code)
from obstack_load.shapes import ProfileShape  # noqa: F401  (--load-shape: stages, step, spike)
from obstack_load.users.ingest import (  # noqa: F401  (also registers the --otlp-* options)
    LogsIngestUser,
    MetricsIngestUser,
    TracesIngestUser,
)

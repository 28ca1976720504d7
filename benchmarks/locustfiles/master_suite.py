"""The suite's full plugin set for benchmarks/master_cost.py: every plugin (results, ledger,
arrival, monitor, capacity's and chaos's listeners...), a health probe on the open-model
schedule, and OTLP logs at a total rate, so each worker report carries the ledger too."""

import benchmarks.locustfiles.report_clock  # noqa: F401
from obstack_load.plugins import ProfileShape  # noqa: F401  (every plugin)
from obstack_load.users.ingest import LogsIngestUser  # noqa: F401
from obstack_load.users.probe import HealthProbeUser  # noqa: F401

"""The platform as it lives: multi-tenant API sessions, with OTLP ingestion running underneath.

``--otlp-users-per-signal N`` ingestion users per signal are spawned first and keep posting at
their share of ``--otlp-total-rate``; every other user is an ``ApiUser``. The load profiles
(baseline, normal, peak, stress, spike, soak) run this file.
"""

from obstack_load.plugins import ProfileShape  # noqa: F401  (every plugin, and --load-shape)
from obstack_load.users.api import ApiUser  # noqa: F401
from obstack_load.users.ingest import (  # noqa: F401  (also registers the --otlp-* options)
    LogsIngestUser,
    MetricsIngestUser,
    TracesIngestUser,
)

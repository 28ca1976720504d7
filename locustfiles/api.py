"""Multi-tenant API sessions: dashboards, log search, traces, alerts and admin, in a weighted mix."""

import obstack_load.capacity.plugin  # noqa: F401  (--capacity-search)
import obstack_load.chaos.monitor  # noqa: F401  (--monitor: health probes beside the run)
import obstack_load.chaos.plugin  # noqa: F401  (--chaos-experiment: a chaos experiment under load)
import obstack_load.dbfigures  # noqa: F401  (the platform's database pool, when it has one)
import obstack_load.history_ui  # noqa: F401  (a History tab and /history pages in the web UI)
import obstack_load.options  # noqa: F401
import obstack_load.results.plugin  # noqa: F401
import obstack_load.thresholds.plugin  # noqa: F401
from obstack_load.shapes import ProfileShape  # noqa: F401
from obstack_load.users.api import ApiUser  # noqa: F401

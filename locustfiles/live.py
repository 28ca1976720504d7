"""WebSocket live tail: users hold /api/v1/live/logs open and measure delivery latency.
Pair it with an ingesting locustfile (e.g. locust -f locustfiles/live.py,locustfiles/smoke.py)."""

import obstack_load.history_ui  # noqa: F401  (a History tab and /history pages in the web UI)
import obstack_load.options  # noqa: F401
import obstack_load.results.plugin  # noqa: F401
import obstack_load.thresholds.plugin  # noqa: F401
from obstack_load.shapes import ProfileShape  # noqa: F401
from obstack_load.users.live_tail import LiveTailUser  # noqa: F401

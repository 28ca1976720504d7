"""WebSocket live tail: users hold /api/v1/live/logs open and measure delivery latency.
Pair it with an ingesting locustfile (e.g. locust -f locustfiles/live.py,locustfiles/smoke.py)."""

from obstack_load.plugins import ProfileShape  # noqa: F401  (every plugin, and --load-shape)
from obstack_load.users.live_tail import LiveTailUser  # noqa: F401

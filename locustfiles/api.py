"""Multi-tenant API sessions: dashboards, log search, traces, alerts and admin, in a weighted mix."""

from obstack_load.plugins import ProfileShape  # noqa: F401  (every plugin, and --load-shape)
from obstack_load.users.api import ApiUser  # noqa: F401

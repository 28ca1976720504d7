"""Health probe: one GET /healthz per iteration; pairs with --arrival-rate for open-model runs."""

from obstack_load.plugins import ProfileShape  # noqa: F401  (every plugin, and --load-shape)
from obstack_load.users.probe import HealthProbeUser  # noqa: F401

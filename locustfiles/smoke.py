"""Smoke test: each user logs in, ingests a small batch of logs, metrics and traces, and reads them back."""

from obstack_load.plugins import ProfileShape  # noqa: F401  (every plugin, and --load-shape)
from obstack_load.users.smoke import SmokeUser  # noqa: F401

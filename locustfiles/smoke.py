"""Smoke test: each user logs in, ingests a small batch of logs, metrics and traces, and reads them back."""

import obstack_load.options  # noqa: F401  (registers --tenants-file, --seed, --summary-json)
import obstack_load.results.plugin  # noqa: F401  (Test Results Database; also the summary)
from obstack_load.users.smoke import SmokeUser  # noqa: F401

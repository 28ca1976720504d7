"""The same GETs with locust-plugins' Timescale listener, for comparison (needs the bench extra)."""

import locust_plugins  # noqa: F401  (registers --timescale and --pg* options)

from benchmarks.locustfiles.plain_get import PlainGet  # noqa: F401

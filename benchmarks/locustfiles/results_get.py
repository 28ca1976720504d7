"""The same GETs with the obstack-load results plugin loaded."""

import obstack_load.results.plugin  # noqa: F401
from benchmarks.locustfiles.plain_get import PlainGet  # noqa: F401

"""The probe, with a start-up that holds the process for 4 s without letting gevent's loop run
(as slow imports and checks do on a busy machine), before the suite's plugins start."""

import time

from locust import events


@events.init.add_listener
def _hold(**kwargs) -> None:
    end = time.monotonic() + 4.0
    while time.monotonic() < end:  # busy, not sleeping: a sleep would run the loop
        pass


from obstack_load.plugins import ProfileShape  # noqa: E402, F401
from obstack_load.users.probe import HealthProbeUser  # noqa: E402, F401

"""Records what the API users request (tenant, path, query, name) so raw users can replay it.

The recording goes to the JSON file named by OBSTACK_BENCH_RECORDING when the run stops.
"""

import json
import os
from urllib.parse import urlencode

from locust import events

import obstack_load.results.plugin  # noqa: F401  (as locustfiles/api.py has it)
from obstack_load.users.api import ApiUser

recorded: list[dict] = []


class RecordingApiUser(ApiUser):
    def on_start(self) -> None:
        super().on_start()
        original = self.session.request
        tenant = self.tenant.tenant_id

        def request(method, path, name, check=None, expect_missing=False, **kwargs):
            if method == "GET":
                query = urlencode(kwargs.get("params") or {})
                recorded.append(
                    {"tenant": tenant, "url": f"{path}?{query}" if query else path, "name": name}
                )
            return original(method, path, name, check, expect_missing, **kwargs)

        self.session.request = request


@events.quit.add_listener
def _write(**kwargs) -> None:
    with open(os.environ["OBSTACK_BENCH_RECORDING"], "w", encoding="utf-8") as out:
        json.dump(recorded, out)

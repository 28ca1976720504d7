"""Baseline for the API users: raw FastHttpUser GETs replaying exactly what the API users asked
for (recorded by record_api.py into OBSTACK_BENCH_RECORDING), per tenant, with a bearer token,
no validation and no JSON decoding. Same URLs, so the platform does the same work and sends the
same answers: only the generator's side differs."""

import json
import os
from collections import defaultdict
from itertools import cycle

from locust import FastHttpUser, task

import obstack_load.results.plugin  # noqa: F401  (both variants carry it, aggregates only)
from obstack_load.users.tenancy import assign, pick_account

with open(os.environ["OBSTACK_BENCH_RECORDING"], encoding="utf-8") as recording:
    BY_TENANT: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for entry in json.load(recording):
        BY_TENANT[entry["tenant"]].append((entry["url"], entry["name"]))


class ReplayApiGets(FastHttpUser):
    def on_start(self) -> None:
        tenant, rng = assign(self.environment)
        account = pick_account(tenant, rng, "viewer")
        token = self.client.post(
            "/api/v1/auth/login", json={"username": account.username, "password": account.password}
        ).json()
        self.headers = {"Authorization": f"Bearer {token['access_token']}"}
        self.urls = cycle(
            BY_TENANT[tenant.tenant_id] or [("/api/v1/dashboards", "/api/v1/dashboards")]
        )

    @task
    def get(self) -> None:
        url, name = next(self.urls)
        self.client.get(url, headers=self.headers, name=name)

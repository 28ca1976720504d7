"""Baseline for the API users: raw FastHttpUser GETs of the same read endpoints, with a bearer
token, no validation and no JSON decoding, cycling dashboards, panels, logs and traces."""

from itertools import cycle

from locust import FastHttpUser, task

import obstack_load.results.plugin  # noqa: F401  (both variants carry it, aggregates only)
from obstack_load.users.tenancy import assign, pick_account


class RawApiGets(FastHttpUser):
    def on_start(self) -> None:
        tenant, rng = assign(self.environment)
        account = pick_account(tenant, rng, "viewer")
        token = self.client.post(
            "/api/v1/auth/login", json={"username": account.username, "password": account.password}
        ).json()
        self.headers = {"Authorization": f"Bearer {token['access_token']}"}
        dashboards = self.client.get("/api/v1/dashboards", headers=self.headers).json()[
            "dashboards"
        ]
        first = dashboards[0]["id"]
        self.paths = cycle(
            [
                ("/api/v1/dashboards", "/api/v1/dashboards"),
                (f"/api/v1/dashboards/{first}", "/api/v1/dashboards/[id]"),
                (
                    f"/api/v1/dashboards/{first}/panels/p0/query?range=1h&step=1m",
                    "/api/v1/dashboards/[id]/panels/[panel]/query",
                ),
                (
                    f"/api/v1/dashboards/{first}/panels/p1/query?range=1h&step=1m",
                    "/api/v1/dashboards/[id]/panels/[panel]/query",
                ),
                ("/api/v1/logs/search?range=1h&limit=50", "/api/v1/logs/search"),
                ("/api/v1/traces/search?range=1h&limit=20", "/api/v1/traces/search"),
            ]
        )

    @task
    def get(self) -> None:
        path, name = next(self.paths)
        self.client.get(path, headers=self.headers, name=name)

"""Multi-tenant API sessions: the platform's human users.

One ``ApiUser`` is one person of one tenant (chosen by tenant weight), logged in with an account
of a role drawn from the mix. Each iteration it picks a behaviour by the mix's weights:

* dashboards: list dashboards, open one, query each panel over a range with a matching step;
* logs: search with filters, then page through the results;
* traces: search traces, open one;
* alerts: list alerts, acknowledge one;
* admin (admin accounts only, rarely): list users, create and delete one, create and rotate a key.

Think times come from the mix. Request names group ids (``/api/v1/dashboards/[id]``). Every
answer is checked for status, shape and tenant (``ApiSession``): another tenant's data is a
``CrossTenantLeak`` failure. Calls go over the lean transport unless ``--api-transport
fasthttp`` asks for Locust's client.
"""

from __future__ import annotations

import uuid
from typing import Any

from locust import FastHttpUser, events, task

from obstack_load.run import arrival
from obstack_load.run.options import add_option, validator
from obstack_load.users.api_mix import ApiMix, load_mix
from obstack_load.users.lean_http import LeanTransport
from obstack_load.users.session import ApiSession
from obstack_load.users.tenancy import assign, pick_account
from obstack_load.users.transport import LocustClientTransport


@validator
def _check_mix(options: Any) -> None:
    """A missing or bad ``--api-mix`` file stops the run before any load."""
    load_mix(getattr(options, "api_mix", None))


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:
    add_option(
        parser, "--api-mix", default=None, help="API session mix file (default config/api-mix.yaml)"
    )
    add_option(
        parser,
        "--api-transport",
        "lean (geventhttpclient directly) or fasthttp (Locust's FastHttpSession) for API calls",
        choices=("lean", "fasthttp"),
        default="lean",
    )


def has_list(key: str):
    def check(answer: Any) -> str | None:
        return None if isinstance(answer.get(key), list) else f"answer has no {key!r} list"

    return check


def has_object(key: str, *fields: str):
    def check(answer: Any) -> str | None:
        value = answer.get(key)
        if not isinstance(value, dict):
            return f"answer has no {key!r} object"
        missing = [f for f in fields if f not in value]
        return f"{key} lacks {', '.join(missing)}" if missing else None

    return check


class ApiUser(FastHttpUser):
    abstract = False

    def wait_time(self) -> float:
        if arrival.enabled(self.environment):
            return arrival.wait_time(lambda user: 0.0)(self)
        return self.rng.uniform(self.mix.think_min, self.mix.think_max)

    def context(self) -> dict:
        return arrival.context(self)

    def on_start(self) -> None:
        self.mix: ApiMix = load_mix(getattr(self.environment.parsed_options, "api_mix", None))
        self.tenant, self.rng = assign(self.environment)
        role = self.rng.choices(list(self.mix.roles), weights=list(self.mix.roles.values()))[0]
        self.account = pick_account(self.tenant, self.rng, role)
        self.transport = None
        if getattr(self.environment.parsed_options, "api_transport", "lean") == "lean":
            self.transport = LeanTransport(self.host, self.network_timeout, self.insecure)
        self.session = ApiSession(
            self.client, self.tenant, self.account, self.mix.paths, self.transport, self
        )
        self.session.login()
        arrival.start_on_schedule(self)  # the login is set-up; the first iteration is scheduled

    def on_stop(self) -> None:
        if self.transport is not None:
            # A user stopped mid-request may still hold the lean connection (its pool has one),
            # so log out over Locust's client instead of waiting for it.
            self.transport.close()
            self.session.transport = LocustClientTransport(self.client)
        self.session.logout()

    @task
    def act(self) -> None:
        names = list(self.mix.behaviours)
        behaviour = self.rng.choices(names, weights=list(self.mix.behaviours.values()))[0]
        if behaviour == "admin" and self.account.role != "admin":
            behaviour = "dashboards"
        getattr(self, f"do_{behaviour}")()

    # ---- behaviours ---------------------------------------------------------------------------

    def do_dashboards(self) -> None:
        mix = self.mix
        listing = self.session.get(
            mix.path("dashboards"), mix.name("dashboards"), check=has_list("dashboards")
        )
        if not listing or not listing["dashboards"]:
            return
        chosen = self.rng.choice(listing["dashboards"])
        opened = self.session.get(
            mix.path("dashboard", id=chosen["id"]),
            mix.name("dashboard"),
            check=has_object("dashboard", "id", "panels"),
        )
        if not opened:
            return
        window = self.rng.choices(mix.ranges, weights=[r.weight for r in mix.ranges])[0]
        for panel in opened["dashboard"]["panels"]:
            self.session.get(
                mix.path("panel_query", id=chosen["id"], panel=panel["id"]), mix.name("panel_query"),
                check=has_list("series"), params={"range": window.range, "step": window.step},
            )  # fmt: skip

    def do_logs(self) -> None:
        mix = self.mix
        params: dict[str, Any] = {"range": self.rng.choice(("15m", "1h", "24h")), "limit": 50}
        if self.rng.random() < 0.5:
            params["service"] = self.rng.choice(self.tenant.services)
        if self.rng.random() < 0.3:
            params["min_severity"] = 13  # WARN and above
        if self.rng.random() < 0.3:
            params["q"] = self.rng.choice(("GET", "status=500", "timeout", "error"))
        for _ in range(self.rng.randint(1, 3)):  # people page a little, rarely far
            page = self.session.get(
                mix.path("logs_search"),
                mix.name("logs_search"),
                check=has_list("records"),
                params=params,
            )
            if not page or not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]

    def do_traces(self) -> None:
        mix = self.mix
        params: dict[str, Any] = {"range": self.rng.choice(("15m", "1h")), "limit": 20}
        if self.rng.random() < 0.5:
            params["service"] = self.rng.choice(self.tenant.services)
        if self.rng.random() < 0.3:
            params["min_duration_ms"] = self.rng.choice((100, 500, 1000))
        found = self.session.get(
            mix.path("traces_search"),
            mix.name("traces_search"),
            check=has_list("traces"),
            params=params,
        )
        if found and found["traces"]:
            trace_id = self.rng.choice(found["traces"])["trace_id"]
            self.session.get(
                mix.path("trace", id=trace_id), mix.name("trace"), check=has_list("spans")
            )

    def do_alerts(self) -> None:
        mix = self.mix
        listing = self.session.get(mix.path("alerts"), mix.name("alerts"), check=has_list("alerts"))
        if listing and listing["alerts"] and self.rng.random() < 0.5:
            alert = self.rng.choice(listing["alerts"])
            self.session.post(
                mix.path("alert_ack", id=alert["id"]),
                mix.name("alert_ack"),
                check=has_object("alert", "state"),
            )

    def do_admin(self) -> None:
        mix = self.mix
        self.session.get(mix.path("admin_users"), mix.name("admin_users"), check=has_list("users"))
        username = f"loadtest-{uuid.uuid4().hex[:10]}@{self.tenant.tenant_id}"
        created = self.session.post(
            mix.path("admin_users"), mix.name("admin_users"), check=has_object("user", "id"),
            json={"username": username, "password": uuid.uuid4().hex, "role": "viewer"},
        )  # fmt: skip
        if created:
            self.session.request(
                "DELETE", mix.path("admin_user", id=created["user"]["id"]), mix.name("admin_user")
            )
        key = self.session.post(
            mix.path("admin_keys"),
            mix.name("admin_keys"),
            check=has_object("api_key", "id"),
            json={"name": "rotation-drill"},
        )
        if key:
            self.session.post(
                mix.path("admin_key_rotate", id=key["api_key"]["id"]),
                mix.name("admin_key_rotate"),
                check=has_object("api_key", "id"),
            )

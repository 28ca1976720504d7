"""The health checks of a target, each one request or two: what the monitor probes every
second, and what a chaos probe asks under Chaos Toolkit's own ``chaos run``. Each answers ""
when healthy, else one line saying what failed. No Locust here: ``chaos run`` loads it too.

- ``healthz``: ``GET /healthz`` answers 2xx;
- ``readyz``: ``GET /readyz`` answers 2xx;
- ``e2e``: one log record with a fresh marker is ingested (OTLP, the tenant's key) and read back
  through the API (``/api/v1/logs/search``), the synthetic check a user would notice.

The paths are the reference platform's by default (``ProbePaths``); a target of another shape
gives its own, or leaves a probe out (``--monitor-probes``).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any


def login(session, host: str, tenant, timeout: float) -> str:
    """An access token of the tenant's first viewer, or ``login HTTP <status>``."""
    account = tenant.accounts_with_role("viewer")[0]
    answer = session.post(f"{host}/api/v1/auth/login", timeout=timeout,
                          json={"username": account.username, "password": account.password})  # fmt: skip
    return answer.json()["access_token"] if answer.ok else f"login HTTP {answer.status_code}"


@dataclass(frozen=True)
class ProbePaths:
    """Where each check asks: the reference platform's paths unless a target has others."""

    healthz: str = "/healthz"
    readyz: str = "/readyz"
    ingest: str = "/v1/logs"  # the OTLP logs endpoint (--otlp-logs-path)
    search: str = "/api/v1/logs/search"


class HealthChecks:
    def __init__(self, paths: ProbePaths = ProbePaths()) -> None:
        self.paths = paths
        self.token: str | None = None  # the e2e check's, renewed when it is refused
        self.generators: dict[str, Any] = {}  # tenant id -> its LogsGenerator, made once

    def _generator(self, tenant):
        """The tenant's log generator, made at the first probe: its fleet of 36 pods took
        about 3% of the master's core to build at each probe, every second."""
        from obstack_load.telemetry import logs

        found = self.generators.get(tenant.tenant_id)
        if found is None:
            rng = random.Random(tenant.tenant_id)
            found = self.generators[tenant.tenant_id] = logs.LogsGenerator(
                logs.Fleet(rng, namespace=tenant.tenant_id), rng,
                logs.Clock(logs.TimestampSettings(), rng),
            )  # fmt: skip
        return found

    def healthz(self, session, host, tenant, timeout) -> str:
        response = session.get(f"{host}{self.paths.healthz}", timeout=timeout)
        return "" if response.ok else f"HTTP {response.status_code}"

    def readyz(self, session, host, tenant, timeout) -> str:
        response = session.get(f"{host}{self.paths.readyz}", timeout=timeout)
        return "" if response.ok else f"HTTP {response.status_code}"

    def e2e(self, session, host, tenant, timeout) -> str:
        """Ingest one record with a fresh marker, then find it through the API."""
        from obstack_load.telemetry import otlp

        marker = uuid.uuid4().hex
        message = self._generator(tenant).batch(1, {"obstack.monitor": marker})
        sent = session.post(
            f"{host}{self.paths.ingest}", data=otlp.encode(message), timeout=timeout,
            headers={"Content-Type": otlp.PROTOBUF, "X-API-Key": tenant.api_key},
        )  # fmt: skip
        if not sent.ok:
            return f"ingest HTTP {sent.status_code}"
        for attempt in (1, 2):  # a token that expired is renewed at once, not counted a failure
            if self.token is None:
                self.token = login(session, host, tenant, timeout)
                if self.token.startswith("login HTTP"):
                    detail, self.token = self.token, None
                    return detail
            found = session.get(
                f"{host}{self.paths.search}", timeout=timeout,
                params={"attr": f"obstack.monitor={marker}", "range": "1h"},
                headers={"Authorization": f"Bearer {self.token}"},
            )  # fmt: skip
            if found.status_code != 401 or attempt == 2:
                break
            self.token = None
        if not found.ok:
            return f"read-back HTTP {found.status_code}"
        return "" if found.json().get("records") else "ingested record not found"

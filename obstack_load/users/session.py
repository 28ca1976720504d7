"""An authenticated API session: log in, refresh before expiry, retry once on 401, log out.

Every JSON answer is checked to belong to the session's tenant; an answer naming another tenant
is failed as a ``CrossTenantLeak``, an error of its own kind so it stands out in stats and gates.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from obstack_load.core.tenants import Account, Tenant
from obstack_load.users.transport import LocustClientTransport, Transport

Check = Callable[[Any], str | None]
AUTH_PATHS = {
    "login": "/api/v1/auth/login",
    "refresh": "/api/v1/auth/refresh",
    "logout": "/api/v1/auth/logout",
}


class CrossTenantLeak(Exception):
    """The platform answered with another tenant's data."""


class ApiSession:
    refresh_margin = 0.2  # refresh when less than this share of the token's lifetime is left

    def __init__(
        self,
        client,
        tenant: Tenant,
        account: Account,
        paths: dict[str, str] | None = None,
        transport: Transport | None = None,
        user=None,
    ) -> None:
        """Calls go through ``transport`` when given, else through the Locust ``client``
        (``user`` supplies the request context); logging in and refreshing always use
        ``client``."""
        self.client = client
        self.transport: Transport = transport or LocustClientTransport(client)
        self.user = user
        self.paths = {**AUTH_PATHS, **(paths or {})}
        self.tenant = tenant
        self.account = account
        self.access_token: str | None = None
        self.refresh_token: str | None = None
        # a refresh was cut short (a user stopped mid-request): the platform may have used its
        # refresh token up (each works once), so the next renewal logs in again instead
        self.refresh_cut_short = False
        self.expires_at = 0.0
        self.lifetime = 0.0
        self.refreshes = 0
        self._headers_for: str | None = None
        self._cached_headers: dict[str, str] = {}
        # every tenant_id of ours, as compact JSON writes it (see foreign_tenant)
        self._own_tenant = b'"tenant_id":' + json.dumps(tenant.tenant_id).encode()

    def _store(self, answer: dict[str, Any]) -> None:
        self.access_token = answer["access_token"]
        self.refresh_token = answer["refresh_token"]
        self.lifetime = float(answer.get("expires_in", 0))
        self.expires_at = time.monotonic() + self.lifetime

    def login(self) -> bool:
        with self.client.post(
            self.paths["login"],
            json={"username": self.account.username, "password": self.account.password},
            name=self.paths["login"],
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"login failed: HTTP {response.status_code}")
                return False
            self._store(response.json())
            return True

    def refresh(self) -> bool:
        if not self.refresh_token or self.refresh_cut_short:
            self.refresh_cut_short = False
            return self.login()
        self.refresh_cut_short = True  # until its answer comes back, whatever it is
        with self.client.post(
            self.paths["refresh"],
            json={"refresh_token": self.refresh_token},
            name=self.paths["refresh"],
            catch_response=True,
        ) as response:
            self.refresh_cut_short = False
            if response.status_code != 200:
                response.failure(f"refresh failed: HTTP {response.status_code}")
                return self.login()
            self._store(response.json())
            self.refreshes += 1
            return True

    def logout(self) -> None:
        """Log out like any other call: refreshed first if due, retried once after a 401."""
        if self.access_token:
            self.request("POST", self.paths["logout"], self.paths["logout"])
            self.access_token = None

    def _headers(self) -> dict[str, str]:
        if self._headers_for != self.access_token:  # built once per token, not per request
            self._cached_headers = {"Authorization": f"Bearer {self.access_token}"}
            self._headers_for = self.access_token
        return self._cached_headers

    def request(
        self,
        method: str,
        path: str,
        name: str,
        check: Check | None = None,
        expect_missing: bool = False,
        **kwargs: Any,
    ) -> Any | None:
        """The decoded JSON answer, or None after marking the request failed.

        ``check`` validates the answer's shape and content: it returns a problem or None. With
        ``expect_missing`` a 404 is a valid answer (``{}``): the caller is waiting for something
        to appear. ``params`` and ``json`` work as in Locust's clients.
        """
        if self.access_token is None:
            self.login()
        elif time.monotonic() > self.expires_at - self.lifetime * self.refresh_margin:
            self.refresh()  # before expiry, so a request rarely meets a 401
        for attempt in (1, 2):
            url, body, headers = self._encode(path, kwargs)
            context = self.user.context() if self.user is not None else {}
            answer = self.transport.send(method, url, body, headers, context)
            retry, problem, value = self._judge(
                answer.status, answer.body, attempt, check, expect_missing
            )
            self.transport.report(answer, name, problem)
            if not retry:
                return value
            self.refresh()  # a 401 is not an error yet: refresh once and retry
        return None

    def _encode(self, path: str, kwargs: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
        """The URL with its query string, the JSON body and the headers, for any transport."""
        params, payload = kwargs.get("params"), kwargs.get("json")
        url = f"{path}?{urlencode(params)}" if params else path
        if payload is None:
            return url, b"", self._headers()
        headers = {**self._headers(), "Content-Type": "application/json"}
        return url, json.dumps(payload).encode(), headers

    def _judge(
        self,
        status: int,
        raw: bytes | None,
        attempt: int,
        check: Check | None,
        expect_missing: bool,
    ) -> tuple[bool, str | Exception | None, Any]:
        """(retry after a refresh?, the problem if any, the answer to hand back)."""
        if status == 401 and attempt == 1:
            return True, None, None
        if status == 404 and expect_missing:
            return False, None, {}
        if not 200 <= status < 300:
            return False, f"HTTP {status}" if status else "no answer", None
        if status == 204:
            return False, None, {}
        raw = raw or b""
        try:
            body = json.loads(raw)
        except ValueError:
            return False, "answer is not JSON", None
        leaked = self.foreign_tenant(body, raw)
        if leaked:
            return False, CrossTenantLeak(f"answer holds data of tenant {leaked}"), None
        problem = check(body) if check else None
        if problem:
            return False, problem, None
        return False, None, body

    def foreign_tenant(self, node: Any, raw: bytes | None = None) -> str | None:
        """The first tenant id in ``node`` that is not ours, searching nested answers.

        Given the ``raw`` JSON, a fast path first: when every ``"tenant_id"`` key in it is
        followed by our own id, as compact JSON writes it, no other tenant can be there, and two
        C-level counts prove it. Anything else (another id, other spacing, escaped keys) takes
        the walk below, so the answer is the same either way, only cheaper for clean answers.
        """
        if raw is not None and b"\\u" not in raw:
            keys = raw.count(b'"tenant_id"')
            if keys == 0 or keys == raw.count(self._own_tenant):
                return None
        stack = [node]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                tenant = item.get("tenant_id")
                if tenant is not None and tenant != self.tenant.tenant_id:
                    return str(tenant)
                stack.extend(v for v in item.values() if isinstance(v, dict | list))
            elif isinstance(item, list):
                stack.extend(v for v in item if isinstance(v, dict | list))
        return None

    def get(
        self, path: str, name: str | None = None, check: Check | None = None, **kwargs: Any
    ) -> Any | None:
        return self.request("GET", path, name or path, check, **kwargs)

    def post(
        self, path: str, name: str | None = None, check: Check | None = None, **kwargs: Any
    ) -> Any | None:
        return self.request("POST", path, name or path, check, **kwargs)

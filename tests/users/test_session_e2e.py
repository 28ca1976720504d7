"""A session whose refresh was cut short renews by logging in again, not with a refresh token
the platform may have used up. Seen in CI: a user stopped mid-refresh at the end of a run (its
greenlet killed after the platform had taken the token) logged out with a second refresh of
the same token, and the run failed on one "refresh failed: HTTP 401"."""

from __future__ import annotations

import gevent
from locust.clients import HttpSession
from locust.env import Environment

from obstack_load.users.session import ApiSession
from tests.support import answered, start_platform, wait_for


def test_a_refresh_cut_short_then_a_logout_records_no_failure(tenants):
    # the refresh waits 1 s on the platform before it is handled (and its token used up)
    platform = start_platform("--test-slow-path", "/api/v1/auth/refresh=1000")
    failures = []
    try:
        environment = Environment()
        environment.events.request.add_listener(
            lambda name, exception=None, **kw: (
                failures.append((name, exception)) if exception else None
            )
        )
        client = HttpSession(platform.url, environment.events.request, user=None)
        tenant = tenants.tenants[0]
        session = ApiSession(client, tenant, tenant.accounts[0])
        assert session.login()
        with gevent.Timeout(0.2, False):  # the user is stopped while its refresh is in flight
            session.refresh()
        assert session.refresh_cut_short
        # the platform goes on to handle it, using the refresh token up
        wait_for(
            lambda: answered(platform.url, tenant.api_key, "refresh", "200"),
            timeout=60,
            interval=0.1,
        )
        session.expires_at = 0.0  # due for renewal, as after a stop
        session.logout()
    finally:
        platform.stop()
    assert failures == []

"""Login, refresh, expiry, logout and roles on the reference platform."""

from __future__ import annotations

import requests

from obstack_load.platform.app import ROUTES
from tests.support import start_platform, wait_for

PUBLIC = {"/healthz", "/readyz", "/api/v1/auth/login", "/api/v1/auth/refresh"}


def refresh(platform, refresh_token: str) -> requests.Response:
    return requests.post(
        f"{platform.url}/api/v1/auth/refresh", json={"refresh_token": refresh_token}, timeout=30
    )


def logout(platform, access_token: str) -> requests.Response:
    return requests.post(
        f"{platform.url}/api/v1/auth/logout",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=30,
    )


def test_every_endpoint_but_health_and_login_requires_auth(platform):
    for route in ROUTES:
        if route.path in PUBLIC or route.path.startswith("/v1/"):
            continue
        path = route.path.replace("{", "").replace("}", "")
        for method in getattr(route, "methods", None) or {"GET"}:
            if method == "HEAD":
                continue
            if route.path == "/api/v1/live/logs":
                continue  # WebSocket; covered in test_live
            response = requests.request(method, f"{platform.url}{path}", timeout=30)
            assert response.status_code == 401, (method, route.path, response.status_code)


def test_login_refresh_logout(platform, tenants):
    account = tenants.tenants[1].accounts[0]
    tokens = platform.login(account.username, account.password)
    assert tokens["tenant_id"] == tenants.tenants[1].tenant_id
    assert platform.get("/api/v1/auth/me", tokens["access_token"]).status_code == 200
    fresh = refresh(platform, tokens["refresh_token"])
    assert fresh.status_code == 200
    # a refresh token is single use
    again = refresh(platform, tokens["refresh_token"])
    assert again.status_code == 401
    new_token = fresh.json()["access_token"]
    ended = logout(platform, new_token)
    assert ended.status_code == 204
    assert platform.get("/api/v1/auth/me", new_token).status_code == 401


def test_wrong_password_and_unknown_user(platform, tenants):
    account = tenants.tenants[0].accounts[0]
    for username, password in ((account.username, "wrong"), ("nobody@nowhere", "x")):
        response = requests.post(
            f"{platform.url}/api/v1/auth/login",
            json={"username": username, "password": password},
            timeout=30,
        )
        assert response.status_code == 401
    bad_body = requests.post(f"{platform.url}/api/v1/auth/login", data=b"nope", timeout=30)
    assert bad_body.status_code == 400


def test_admin_endpoints_need_admin_role(platform, tenants):
    viewer = platform.token_for(tenants, 0, "viewer")
    admin = platform.token_for(tenants, 0, "admin")
    for path in ("/api/v1/admin/users", "/api/v1/admin/api-keys", "/api/v1/admin/tenant"):
        assert platform.get(path, viewer).status_code == 403
        assert platform.get(path, admin).status_code == 200


def test_admin_manages_users_and_rotates_keys(platform, tenants):
    admin = {"Authorization": f"Bearer {platform.token_for(tenants, 2)}"}
    created = requests.post(f"{platform.url}/api/v1/admin/users", headers=admin,
                            json={"username": "temp@tenant-03", "password": "pw-123", "role": "viewer"}, timeout=30)  # fmt: skip
    assert created.status_code == 201
    assert "password" not in created.json()["user"]
    assert platform.login("temp@tenant-03", "pw-123")["role"] == "viewer"
    user_id = created.json()["user"]["id"]
    assert (
        requests.delete(
            f"{platform.url}/api/v1/admin/users/{user_id}", headers=admin, timeout=30
        ).status_code
        == 204
    )
    login = requests.post(
        f"{platform.url}/api/v1/auth/login",
        json={"username": "temp@tenant-03", "password": "pw-123"},
        timeout=30,
    )
    assert login.status_code == 401

    key = requests.post(
        f"{platform.url}/api/v1/admin/api-keys", headers=admin, json={"name": "ci"}, timeout=30
    ).json()["api_key"]
    listed = requests.get(
        f"{platform.url}/api/v1/admin/api-keys", headers=admin, timeout=30
    ).json()["api_keys"]
    assert all("key" not in k for k in listed), "listing must never show full keys"
    old = key["key"]
    rotated = requests.post(
        f"{platform.url}/api/v1/admin/api-keys/{key['id']}/rotate", headers=admin, timeout=30
    ).json()["api_key"]
    assert rotated["key"] != old
    body_headers = {"Content-Type": "application/x-protobuf"}
    assert (
        requests.post(
            f"{platform.url}/v1/logs", headers={**body_headers, "X-API-Key": old}, timeout=30
        ).status_code
        == 401
    )
    assert (
        requests.post(
            f"{platform.url}/v1/logs",
            headers={**body_headers, "X-API-Key": rotated["key"]},
            timeout=30,
        ).status_code
        == 200
    )


def test_short_token_lifetime_forces_refresh(tenants):
    running = start_platform("--token-ttl", "1")
    try:
        account = tenants.tenants[0].accounts[0]
        tokens = running.login(account.username, account.password)
        assert running.get("/api/v1/auth/me", tokens["access_token"]).status_code == 200
        wait_for(
            lambda: running.get("/api/v1/auth/me", tokens["access_token"]).status_code == 401,
            timeout=30,
        )
        fresh = refresh(running, tokens["refresh_token"])
        assert fresh.status_code == 200
        assert running.get("/api/v1/auth/me", fresh.json()["access_token"]).status_code == 200
    finally:
        assert running.stop() == 0


def test_logout_ends_only_its_own_session(platform, tenants):
    account = tenants.tenants[4].accounts[0]
    first = platform.login(account.username, account.password)
    second = platform.login(account.username, account.password)
    ended = logout(platform, first["access_token"])
    assert ended.status_code == 204
    gone = refresh(platform, first["refresh_token"])
    assert gone.status_code == 401
    kept = refresh(platform, second["refresh_token"])
    assert kept.status_code == 200, "the same account's other session keeps working"

"""Tenant A's credentials, aimed at every read endpoint with tenant B's ids and data, get nothing of B's."""

from __future__ import annotations

import json
import random
import uuid

import requests

from obstack_load.telemetry import logs, metrics, otlp, traces


def ingest(platform, tenant, marker: str) -> str:
    rng = random.Random(marker)
    extra = {"obstack.marker": marker}
    trace_id = uuid.uuid4().bytes
    for signal, message in (
        ("logs", logs.logs_request(tenant, rng, 10, extra)),
        ("metrics", metrics.metrics_request(tenant, rng, 3, extra)),
        ("traces", traces.traces_request(tenant, rng, 4, extra, trace_id=trace_id)),
    ):
        response = requests.post(
            f"{platform.url}{otlp.SIGNALS[signal].path}", data=otlp.encode(message),
            headers={"Content-Type": otlp.PROTOBUF, "X-API-Key": tenant.api_key}, timeout=30,
        )  # fmt: skip
        assert response.status_code == 200
    return trace_id.hex()


def test_tenant_a_sees_nothing_of_tenant_b(platform, tenants):
    a, b = tenants.tenants[0], tenants.tenants[1]
    marker = f"secret-{uuid.uuid4().hex}"
    trace_b = ingest(platform, b, marker)
    token_a = platform.token_for(tenants, 0)
    token_b = platform.token_for(tenants, 1)

    # B's own view, to learn B's ids and prove the data is really there
    dashboards_b = platform.get("/api/v1/dashboards", token_b).json()["dashboards"]
    alerts_b = platform.get("/api/v1/alerts", token_b).json()["alerts"]
    users_b = platform.get("/api/v1/admin/users", token_b).json()["users"]
    keys_b = platform.get("/api/v1/admin/api-keys", token_b).json()["api_keys"]
    assert platform.get(f"/api/v1/traces/{trace_b}", token_b).status_code == 200
    assert platform.get(
        "/api/v1/logs/search", token_b, params={"attr": f"obstack.marker={marker}"}
    ).json()["records"]
    assert dashboards_b and alerts_b and users_b and keys_b

    # A aims at B's ids: every one is simply not found
    headers_a = {"Authorization": f"Bearer {token_a}"}
    foreign = [
        ("GET", f"/api/v1/traces/{trace_b}"),
        ("GET", f"/api/v1/dashboards/{dashboards_b[0]['id']}"),
        ("GET", f"/api/v1/dashboards/{dashboards_b[0]['id']}/panels/p0/query"),
        ("POST", f"/api/v1/alerts/{alerts_b[0]['id']}/ack"),
        ("DELETE", f"/api/v1/admin/users/{users_b[0]['id']}"),
        ("POST", f"/api/v1/admin/api-keys/{keys_b[0]['id']}/rotate"),
        ("DELETE", f"/api/v1/admin/api-keys/{keys_b[0]['id']}"),
    ]
    for method, path in foreign:
        response = requests.request(method, f"{platform.url}{path}", headers=headers_a, timeout=30)
        assert response.status_code == 404, (method, path, response.status_code)

    # A searches for B's data by content: empty answers, all labelled with A's tenant
    reads = [
        ("/api/v1/logs/search", {"attr": f"obstack.marker={marker}", "range": "7d"}),
        ("/api/v1/logs/search", {"q": "GET", "range": "7d", "limit": 1000}),
        (
            "/api/v1/metrics/query",
            {"name": "system.cpu.utilization", "match": f"obstack.marker={marker}", "range": "7d"},
        ),
        ("/api/v1/traces/search", {"range": "7d", "limit": 1000}),
        ("/api/v1/dashboards", {}),
        ("/api/v1/alerts", {}),
        ("/api/v1/usage", {}),
        ("/api/v1/metrics/names", {}),
        ("/api/v1/admin/users", {}),
        ("/api/v1/admin/api-keys", {}),
        ("/api/v1/admin/tenant", {}),
    ]
    b_ids = {d["id"] for d in dashboards_b} | {x["id"] for x in alerts_b + users_b + keys_b}
    for path, params in reads:
        response = platform.get(path, token_a, params=params)
        assert response.status_code == 200, path
        text = response.text
        assert marker not in text, path
        assert trace_b not in text, path
        assert b.tenant_id not in text, path
        assert not any(i in text for i in b_ids), path
        assert json.loads(text)["tenant_id"] == a.tenant_id

    # B's alert was not acknowledged by A's attempt, and B's key still works
    alerts_after = platform.get("/api/v1/alerts", token_b).json()["alerts"]
    assert alerts_after[0]["state"] == "firing"
    assert len(platform.get("/api/v1/admin/api-keys", token_b).json()["api_keys"]) == len(keys_b)


def test_live_tail_only_streams_own_tenant(platform, tenants):
    token_a = platform.token_for(tenants, 0)
    ws = platform.live_tail(token_a)
    try:
        ingest(platform, tenants.tenants[1], "for-b-only")
        ingest(platform, tenants.tenants[0], "for-a")
        message = json.loads(ws.recv())
        assert message["tenant_id"] == tenants.tenants[0].tenant_id
        assert all(r["attributes"]["obstack.marker"] == "for-a" for r in message["records"])
    finally:
        ws.close()

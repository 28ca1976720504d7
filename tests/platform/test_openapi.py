"""The OpenAPI document in config/ describes exactly the routes the platform serves."""

from __future__ import annotations

from obstack_load.platform.app import ROUTES, openapi_document


def test_document_and_routes_agree():
    document = openapi_document()
    documented = {
        (path, method.upper()) for path, ops in document["paths"].items() for method in ops
    }
    served = set()
    for route in ROUTES:
        methods = getattr(route, "methods", None) or {"GET"}
        served |= {(route.path, m) for m in methods if m != "HEAD"}
    assert documented == served


def test_served_at_openapi_json_with_auth(platform, tenants):
    token = platform.token_for(tenants, 0, "viewer")
    assert platform.get("/openapi.json", "bad").status_code == 401
    response = platform.get("/openapi.json", token)
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_health_metrics_readiness(platform, tenants):
    import requests

    assert requests.get(f"{platform.url}/healthz", timeout=30).json() == {"status": "ok"}
    ready = requests.get(f"{platform.url}/readyz", timeout=30).json()
    assert ready["status"] == "ready" and ready["checks"]["tenants"]["count"] == len(
        tenants.tenants
    )
    assert requests.get(f"{platform.url}/metrics", timeout=30).status_code == 401
    text = requests.get(
        f"{platform.url}/metrics", headers={"X-API-Key": tenants.tenants[0].api_key}, timeout=30
    ).text
    assert "obstack_http_requests_total" in text
    assert "obstack_ingested_items_total" in text
    assert "tenant-" not in text, "the platform's own metrics must not name tenants"

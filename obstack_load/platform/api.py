"""The platform's JSON API: auth, metrics/logs/traces queries, dashboards, alerts, usage, admin.

Every handler starts by resolving the caller to a tenant and then reads only that tenant's
store, so a foreign id is simply not found (404) rather than forbidden: the platform never even
confirms that another tenant's object exists.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from obstack_load.core import config
from obstack_load.core.tenants import ROLES
from obstack_load.platform.auth import AuthError, Principal, bearer
from obstack_load.platform.backend import Backend, MetricQuery, Unavailable
from obstack_load.platform.state import PlatformState, stable_id
from obstack_load.platform.storage import AGGREGATIONS, Matcher, trace_summary

MAX_LIMIT = 1000


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def state_of(request: Request) -> PlatformState:
    return request.app.state.platform


def backend_of(request: Request) -> Backend:
    return request.app.state.platform.backend


async def authenticate(backend: Backend, headers, role: str | None = None) -> Principal:
    """The user session a bearer token names, holding ``role`` when one is required."""
    token = bearer(headers)
    if token is None:
        raise AuthError(401, "missing bearer token")
    principal = await backend.session(token)
    if principal is None:
        raise AuthError(401, "invalid or expired token")
    if role is not None and principal.role != role:
        raise AuthError(403, f"requires the {role} role")
    return principal


async def ingest_tenant(backend: Backend, headers) -> str:
    """The tenant an API key (``X-API-Key`` or bearer) names; ``X-Scope-OrgID`` must agree."""
    key = headers.get("x-api-key") or bearer(headers)
    tenant_id = await backend.ingest_tenant(key) if key else None
    if tenant_id is None:
        raise AuthError(401, "missing or invalid API key")
    org = headers.get("x-scope-orgid")
    if org is not None and org != tenant_id:
        raise AuthError(403, "X-Scope-OrgID does not match the API key's tenant")
    return tenant_id


async def any_principal(backend: Backend, headers) -> Principal:
    """A user token or an API key: enough for the platform's own /metrics and /openapi.json."""
    try:
        return await authenticate(backend, headers)
    except AuthError:
        return Principal(await ingest_tenant(backend, headers), "ingest")


async def caller(request: Request, role: str | None = None) -> Principal:
    return await authenticate(backend_of(request), request.headers, role)


def reply(principal: Principal, **data: Any) -> JSONResponse:
    """Every answer names the tenant it belongs to, so clients can check for leaks."""
    return JSONResponse({"tenant_id": principal.tenant_id, **data})


def parse_duration(value: str, name: str) -> float:
    try:
        return config.parse_duration(value)
    except ValueError as exc:
        raise ApiError(400, f"{name}: {exc}") from None


def time_range(request: Request) -> tuple[int, int]:
    """``start``/``end`` in unix seconds, or ``range`` back from now (default 1h)."""
    params = request.query_params
    try:
        end = float(params["end"]) if "end" in params else time.time()
        if "start" in params:
            start = float(params["start"])
        else:
            start = end - parse_duration(params.get("range", "1h"), "range")
    except ValueError:
        raise ApiError(400, "start and end must be unix seconds") from None
    if start > end:
        raise ApiError(400, "start must not be after end")
    return int(start * 1e9), int(end * 1e9)


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(400, f"{name} must be an integer between {low} and {high}")
    return int(raw)


async def json_body(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise ApiError(400, "body must be JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body must be a JSON object")
    return data


def required_str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ApiError(400, f"{key} is required and must be a non-empty string")
    return value


# ---- auth ---------------------------------------------------------------------------------------


async def login(request: Request) -> Response:
    data = await json_body(request)
    return JSONResponse(
        await backend_of(request).login(
            required_str(data, "username"), required_str(data, "password")
        )
    )


async def refresh(request: Request) -> Response:
    data = await json_body(request)
    return JSONResponse(
        await backend_of(request).refresh_session(required_str(data, "refresh_token"))
    )


async def logout(request: Request) -> Response:
    await caller(request)
    await backend_of(request).logout(bearer(request.headers) or "")
    return Response(status_code=204)


async def whoami(request: Request) -> Response:
    principal = await caller(request)
    return reply(principal, username=principal.username, role=principal.role)


# ---- metrics ------------------------------------------------------------------------------------


async def run_metrics_query(
    request: Request, principal: Principal, query: dict[str, Any], start_ns: int, end_ns: int
) -> list[dict[str, Any]]:
    step_param = request.query_params.get("step")
    span_s = (end_ns - start_ns) / 1e9
    step = parse_duration(step_param, "step") if step_param else max(span_s / 60, 1.0)
    if step <= 0 or span_s / step > 11_000:
        raise ApiError(400, "step is too small for the range (at most 11000 points per series)")
    aggregation = query.get("aggregation", "avg")
    if aggregation not in AGGREGATIONS:
        raise ApiError(400, f"aggregation must be one of {', '.join(AGGREGATIONS)}")
    try:
        matchers = [Matcher.parse(m) for m in query.get("match", [])]
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    try:
        return await backend_of(request).query(
            principal.tenant_id,
            MetricQuery(
                metric=query["metric"],
                matchers=matchers,
                start_ns=start_ns,
                end_ns=end_ns,
                step_ns=int(step * 1e9),
                aggregation=aggregation,
                by=list(query.get("by", [])),
            ),  # fmt: skip
        )
    except ValueError as exc:  # a matcher's regex the database refuses
        raise ApiError(400, str(exc)) from None


async def metrics_query(request: Request) -> Response:
    principal = await caller(request)
    params = request.query_params
    name = params.get("name")
    if not name:
        raise ApiError(400, "name is required")
    query = {
        "metric": name,
        "aggregation": params.get("aggregation", "avg"),
        "match": params.getlist("match"),
        "by": [b for b in params.get("by", "").split(",") if b],
    }
    start_ns, end_ns = time_range(request)
    series = await run_metrics_query(request, principal, query, start_ns, end_ns)
    return reply(principal, metric=name, series=series)


async def metric_names(request: Request) -> Response:
    principal = await caller(request)
    names = await backend_of(request).metric_names(principal.tenant_id)
    return reply(principal, names=names)


# ---- logs ---------------------------------------------------------------------------------------


def public_log(tenant_id: str, record: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in record.items() if k not in ("ingested_at", "seq")}
    out["tenant_id"] = tenant_id
    return out


async def logs_search(request: Request) -> Response:
    principal = await caller(request)
    params = request.query_params
    attrs: dict[str, str] = {}
    for item in params.getlist("attr"):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ApiError(400, f"attr {item!r} must be key=value")
        attrs[key] = value
    cursor = params.get("cursor")
    if cursor is not None and not cursor.isdigit():
        raise ApiError(400, "cursor must be the next_cursor of a previous page")
    start_ns, end_ns = time_range(request)
    store = state_of(request).store(principal.tenant_id)
    records, next_seq = store.search_logs(
        text=params.get("q"),
        attrs=attrs,
        min_severity=int_param(request, "min_severity", 0, 0, 24),
        service=params.get("service"),
        start_ns=start_ns,
        end_ns=end_ns,
        limit=int_param(request, "limit", 100, 1, MAX_LIMIT),
        before_seq=int(cursor) if cursor else None,
    )
    return reply(
        principal,
        records=[public_log(principal.tenant_id, r) for r in records],
        next_cursor=str(next_seq) if next_seq else None,
    )


# ---- traces -------------------------------------------------------------------------------------


async def trace_get(request: Request) -> Response:
    principal = await caller(request)
    trace_id = request.path_params["trace_id"].lower()
    stored = state_of(request).store(principal.tenant_id).traces.get(trace_id)
    if not stored:
        raise ApiError(404, "trace not found")
    spans = list(stored.values())
    return reply(principal, trace_id=trace_id, summary=trace_summary(trace_id, spans), spans=spans)


async def traces_search(request: Request) -> Response:
    principal = await caller(request)
    params = request.query_params
    try:
        min_ms = float(params.get("min_duration_ms", 0))
        max_ms = float(params.get("max_duration_ms", "inf"))
    except ValueError:
        raise ApiError(400, "min_duration_ms and max_duration_ms must be numbers") from None
    start_ns, end_ns = time_range(request)
    traces = (
        state_of(request)
        .store(principal.tenant_id)
        .search_traces(
            service=params.get("service"),
            min_ms=min_ms,
            max_ms=max_ms,
            start_ns=start_ns,
            end_ns=end_ns,
            limit=int_param(request, "limit", 20, 1, MAX_LIMIT),
        )
    )
    return reply(principal, traces=traces)


# ---- dashboards and alerts ----------------------------------------------------------------------


def _owned(found: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    if found is None:
        raise ApiError(404, f"{kind} not found")
    return found


async def dashboards_list(request: Request) -> Response:
    principal = await caller(request)
    state = state_of(request)
    dashboards = await state.backend.dashboards(principal.tenant_id)
    if state.leaks_dashboard():
        # testing only (--test-leak-every N): a deliberate cross-tenant leak the suite must catch
        other = next(t for t in sorted(state.tenant_ids) if t != principal.tenant_id)
        dashboards.append((await state.backend.dashboards(other))[0])
    return reply(
        principal,
        dashboards=[
            {
                "id": d["id"],
                "title": d["title"],
                "panels": len(d["panels"]),
                "tenant_id": d["tenant_id"],
            }
            for d in dashboards
        ],
    )


async def dashboard_get(request: Request) -> Response:
    principal = await caller(request)
    found = await backend_of(request).dashboard(
        principal.tenant_id, request.path_params["dashboard_id"]
    )
    return reply(principal, dashboard=_owned(found, "dashboard"))


async def dashboard_create(request: Request) -> Response:
    principal = await caller(request)
    if principal.role == "viewer":
        raise ApiError(403, "viewers cannot create dashboards")
    data = await json_body(request)
    title = required_str(data, "title")
    panels = data.get("panels", [])
    if not isinstance(panels, list):
        raise ApiError(400, "panels must be a list")
    clean = []
    for index, panel in enumerate(panels):
        if not isinstance(panel, dict) or not isinstance(panel.get("query"), dict):
            raise ApiError(400, f"panels[{index}] needs a query object")
        query = panel["query"]
        if not isinstance(query.get("metric"), str):
            raise ApiError(400, f"panels[{index}].query.metric is required")
        clean.append(
            {
                "id": f"p{index}",
                "title": str(panel.get("title", query["metric"])),
                "query": {
                    "metric": query["metric"],
                    "aggregation": str(query.get("aggregation", "avg")),
                    "by": list(query.get("by", [])),
                    "match": list(query.get("match", [])),
                },
            }
        )
    dashboard_id = stable_id("dsh_", principal.tenant_id, time.time_ns(), secrets.token_hex(4))
    dashboard = {
        "id": dashboard_id,
        "tenant_id": principal.tenant_id,
        "title": title,
        "panels": clean,
    }
    await backend_of(request).create_dashboard(principal.tenant_id, dashboard)
    return JSONResponse({"tenant_id": principal.tenant_id, "dashboard": dashboard}, status_code=201)


async def panel_query(request: Request) -> Response:
    principal = await caller(request)
    found = await backend_of(request).dashboard(
        principal.tenant_id, request.path_params["dashboard_id"]
    )
    dashboard = _owned(found, "dashboard")
    panel_id = request.path_params["panel_id"]
    panel = next((p for p in dashboard["panels"] if p["id"] == panel_id), None)
    if panel is None:
        raise ApiError(404, "panel not found")
    start_ns, end_ns = time_range(request)
    series = await run_metrics_query(request, principal, panel["query"], start_ns, end_ns)
    return reply(principal, dashboard_id=dashboard["id"], panel_id=panel_id, series=series)


async def alerts_list(request: Request) -> Response:
    principal = await caller(request)
    alerts = await backend_of(request).alerts(principal.tenant_id)
    wanted = request.query_params.get("state")
    if wanted:
        alerts = [a for a in alerts if a["state"] == wanted]
    return reply(principal, alerts=alerts)


async def alert_ack(request: Request) -> Response:
    principal = await caller(request)
    found = await backend_of(request).ack_alert(
        principal.tenant_id, request.path_params["alert_id"], principal.username or ""
    )
    return reply(principal, alert=_owned(found, "alert"))


# ---- usage --------------------------------------------------------------------------------------


async def usage(request: Request) -> Response:
    principal = await caller(request)
    state = state_of(request)
    return reply(
        principal,
        signals={name: u.as_dict() for name, u in state.store(principal.tenant_id).usage.items()},
        stored=state.stored(principal.tenant_id),
    )


# ---- admin (admin role, own tenant only) --------------------------------------------------------


async def admin_tenant(request: Request) -> Response:
    principal = await caller(request, "admin")
    state = state_of(request)
    tenant = state.population.by_id(principal.tenant_id)
    return reply(
        principal,
        tenant={
            "id": tenant.tenant_id,
            "name": tenant.name,
            "users": len(await state.backend.users(tenant.tenant_id)),
            "api_keys": len(await state.backend.api_keys(tenant.tenant_id)),
            "stored": state.stored(tenant.tenant_id),
        },
    )


async def admin_users_list(request: Request) -> Response:
    principal = await caller(request, "admin")
    return reply(principal, users=await backend_of(request).users(principal.tenant_id))


async def admin_user_create(request: Request) -> Response:
    principal = await caller(request, "admin")
    data = await json_body(request)
    role = data.get("role", "viewer")
    if role not in ROLES:
        raise ApiError(400, f"role must be one of {', '.join(ROLES)}")
    user = await backend_of(request).add_user(
        principal.tenant_id, required_str(data, "username"), required_str(data, "password"), role
    )
    return JSONResponse({"tenant_id": principal.tenant_id, "user": user}, status_code=201)


async def admin_user_delete(request: Request) -> Response:
    principal = await caller(request, "admin")
    if not await backend_of(request).delete_user(
        principal.tenant_id, request.path_params["user_id"]
    ):
        raise ApiError(404, "user not found")
    return Response(status_code=204)


async def admin_keys_list(request: Request) -> Response:
    principal = await caller(request, "admin")
    return reply(principal, api_keys=await backend_of(request).api_keys(principal.tenant_id))


def _key_with_secret(principal: Principal, record: dict[str, object], status: int) -> JSONResponse:
    """The one answer that shows a key in full: the moment it is created or rotated."""
    return JSONResponse({"tenant_id": principal.tenant_id, "api_key": record}, status_code=status)


async def admin_key_create(request: Request) -> Response:
    principal = await caller(request, "admin")
    data = await json_body(request)
    record = await backend_of(request).add_api_key(
        principal.tenant_id, str(data.get("name", "key"))
    )
    return _key_with_secret(principal, record, 201)


async def admin_key_rotate(request: Request) -> Response:
    principal = await caller(request, "admin")
    record = await backend_of(request).rotate_api_key(
        principal.tenant_id, request.path_params["key_id"]
    )
    return _key_with_secret(principal, _owned(record, "API key"), 200)


async def admin_key_delete(request: Request) -> Response:
    principal = await caller(request, "admin")
    # another tenant's key is simply not found
    if not await backend_of(request).delete_api_key(
        principal.tenant_id, request.path_params["key_id"]
    ):
        raise ApiError(404, "API key not found")
    return Response(status_code=204)


# ---- errors -------------------------------------------------------------------------------------


async def error_response(request: Request, exc: Exception) -> Response:
    if isinstance(exc, Unavailable):
        return JSONResponse(
            {"error": exc.message, "status": 503}, 503,
            headers={"Retry-After": str(exc.retry_after)},
        )  # fmt: skip
    assert isinstance(exc, ApiError | AuthError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse({"error": exc.message, "status": exc.status}, exc.status, headers=headers)

"""The platform's JSON API: auth, metrics/logs/traces queries, dashboards, alerts, usage, admin.

Every handler starts by resolving the caller to a tenant and then reads only that tenant's
store, so a foreign id is simply not found (404) rather than forbidden: the platform never even
confirms that another tenant's object exists.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from obstack_load import config
from obstack_load.platform.auth import AuthError, Principal
from obstack_load.platform.state import PlatformState, stable_id
from obstack_load.platform.storage import AGGREGATIONS, Matcher, evaluate_query, trace_summary
from obstack_load.tenants import ROLES

MAX_LIMIT = 1000


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def state_of(request: Request) -> PlatformState:
    return request.app.state.platform


def caller(request: Request, role: str | None = None) -> Principal:
    return state_of(request).auth.user_for(request.headers, role)


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
        state_of(request).auth.login(required_str(data, "username"), required_str(data, "password"))
    )


async def refresh(request: Request) -> Response:
    data = await json_body(request)
    return JSONResponse(state_of(request).auth.refresh_session(required_str(data, "refresh_token")))


async def logout(request: Request) -> Response:
    caller(request)
    state_of(request).auth.logout(request.headers["authorization"].split(" ", 1)[1].strip())
    return Response(status_code=204)


async def whoami(request: Request) -> Response:
    principal = caller(request)
    return reply(principal, username=principal.username, role=principal.role)


# ---- metrics ------------------------------------------------------------------------------------


def run_metrics_query(
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
    store = state_of(request).store(principal.tenant_id)
    return evaluate_query(
        store.matching_series(query["metric"], matchers),
        start_ns=start_ns,
        end_ns=end_ns,
        step_ns=int(step * 1e9),
        aggregation=aggregation,
        by=list(query.get("by", [])),
    )


async def metrics_query(request: Request) -> Response:
    principal = caller(request)
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
    series = run_metrics_query(request, principal, query, start_ns, end_ns)
    return reply(principal, metric=name, series=series)


async def metric_names(request: Request) -> Response:
    principal = caller(request)
    names = sorted(state_of(request).store(principal.tenant_id).series_by_name)
    return reply(principal, names=names)


# ---- logs ---------------------------------------------------------------------------------------


def public_log(tenant_id: str, record: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in record.items() if k not in ("ingested_at", "seq")}
    out["tenant_id"] = tenant_id
    return out


async def logs_search(request: Request) -> Response:
    principal = caller(request)
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
    principal = caller(request)
    trace_id = request.path_params["trace_id"].lower()
    stored = state_of(request).store(principal.tenant_id).traces.get(trace_id)
    if not stored:
        raise ApiError(404, "trace not found")
    spans = list(stored.values())
    return reply(principal, trace_id=trace_id, summary=trace_summary(trace_id, spans), spans=spans)


async def traces_search(request: Request) -> Response:
    principal = caller(request)
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


def _owned(table: dict[str, dict[str, Any]], object_id: str, kind: str) -> dict[str, Any]:
    found = table.get(object_id)
    if found is None:
        raise ApiError(404, f"{kind} not found")
    return found


async def dashboards_list(request: Request) -> Response:
    principal = caller(request)
    state = state_of(request)
    dashboards = list(state.objects[principal.tenant_id].dashboards.values())
    if state.leaks_dashboard():
        # testing only (--test-leak-every N): a deliberate cross-tenant leak the suite must catch
        other = next(t for t in sorted(state.objects) if t != principal.tenant_id)
        dashboards.append(next(iter(state.objects[other].dashboards.values())))
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
    principal = caller(request)
    table = state_of(request).objects[principal.tenant_id].dashboards
    return reply(
        principal, dashboard=_owned(table, request.path_params["dashboard_id"], "dashboard")
    )


async def dashboard_create(request: Request) -> Response:
    principal = caller(request)
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
    objects = state_of(request).objects[principal.tenant_id]
    dashboard_id = stable_id("dsh_", principal.tenant_id, time.time_ns(), len(objects.dashboards))
    dashboard = {
        "id": dashboard_id,
        "tenant_id": principal.tenant_id,
        "title": title,
        "panels": clean,
    }
    objects.dashboards[dashboard_id] = dashboard
    return JSONResponse({"tenant_id": principal.tenant_id, "dashboard": dashboard}, status_code=201)


async def panel_query(request: Request) -> Response:
    principal = caller(request)
    table = state_of(request).objects[principal.tenant_id].dashboards
    dashboard = _owned(table, request.path_params["dashboard_id"], "dashboard")
    panel_id = request.path_params["panel_id"]
    panel = next((p for p in dashboard["panels"] if p["id"] == panel_id), None)
    if panel is None:
        raise ApiError(404, "panel not found")
    start_ns, end_ns = time_range(request)
    series = run_metrics_query(request, principal, panel["query"], start_ns, end_ns)
    return reply(principal, dashboard_id=dashboard["id"], panel_id=panel_id, series=series)


async def alerts_list(request: Request) -> Response:
    principal = caller(request)
    alerts = list(state_of(request).objects[principal.tenant_id].alerts.values())
    wanted = request.query_params.get("state")
    if wanted:
        alerts = [a for a in alerts if a["state"] == wanted]
    return reply(principal, alerts=alerts)


async def alert_ack(request: Request) -> Response:
    principal = caller(request)
    table = state_of(request).objects[principal.tenant_id].alerts
    alert = _owned(table, request.path_params["alert_id"], "alert")
    alert.update(
        state="acknowledged", acknowledged_by=principal.username, acknowledged_at=time.time()
    )
    return reply(principal, alert=alert)


# ---- usage --------------------------------------------------------------------------------------


async def usage(request: Request) -> Response:
    principal = caller(request)
    store = state_of(request).store(principal.tenant_id)
    return reply(
        principal,
        signals={name: u.as_dict() for name, u in store.usage.items()},
        stored=store.counts(),
    )


# ---- admin (admin role, own tenant only) --------------------------------------------------------


async def admin_tenant(request: Request) -> Response:
    principal = caller(request, "admin")
    state = state_of(request)
    tenant = state.population.by_id(principal.tenant_id)
    return reply(
        principal,
        tenant={
            "id": tenant.tenant_id,
            "name": tenant.name,
            "users": len(state.auth.tenant_users(tenant.tenant_id)),
            "api_keys": len(state.auth.tenant_api_keys(tenant.tenant_id)),
            "stored": state.store(tenant.tenant_id).counts(),
        },
    )


async def admin_users_list(request: Request) -> Response:
    principal = caller(request, "admin")
    users = state_of(request).auth.tenant_users(principal.tenant_id)
    return reply(principal, users=[u.public() for u in users])


async def admin_user_create(request: Request) -> Response:
    principal = caller(request, "admin")
    data = await json_body(request)
    role = data.get("role", "viewer")
    if role not in ROLES:
        raise ApiError(400, f"role must be one of {', '.join(ROLES)}")
    user = state_of(request).auth.add_user(
        principal.tenant_id, required_str(data, "username"), required_str(data, "password"), role
    )
    return JSONResponse({"tenant_id": principal.tenant_id, "user": user.public()}, status_code=201)


async def admin_user_delete(request: Request) -> Response:
    principal = caller(request, "admin")
    if not state_of(request).auth.delete_user(principal.tenant_id, request.path_params["user_id"]):
        raise ApiError(404, "user not found")
    return Response(status_code=204)


async def admin_keys_list(request: Request) -> Response:
    principal = caller(request, "admin")
    keys = state_of(request).auth.tenant_api_keys(principal.tenant_id)
    return reply(principal, api_keys=[k.public() for k in keys])


def _key_with_secret(principal: Principal, record: Any, status: int) -> JSONResponse:
    """The one answer that shows a key in full: the moment it is created or rotated."""
    body = {"tenant_id": principal.tenant_id, "api_key": {**record.public(), "key": record.key}}
    return JSONResponse(body, status_code=status)


async def admin_key_create(request: Request) -> Response:
    principal = caller(request, "admin")
    data = await json_body(request)
    record = state_of(request).auth.add_api_key(principal.tenant_id, str(data.get("name", "key")))
    return _key_with_secret(principal, record, 201)


def _own_key(request: Request, principal: Principal) -> tuple[Any, Any]:
    """The caller's tenant's key named in the path; another tenant's key is simply not found."""
    auth = state_of(request).auth
    record = auth.find_api_key(principal.tenant_id, request.path_params["key_id"])
    if record is None:
        raise ApiError(404, "API key not found")
    return auth, record


async def admin_key_rotate(request: Request) -> Response:
    principal = caller(request, "admin")
    auth, record = _own_key(request, principal)
    return _key_with_secret(principal, auth.rotate_api_key(record), 200)


async def admin_key_delete(request: Request) -> Response:
    principal = caller(request, "admin")
    auth, record = _own_key(request, principal)
    auth.delete_api_key(record)
    return Response(status_code=204)


# ---- errors -------------------------------------------------------------------------------------


async def error_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError | AuthError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse({"error": exc.message, "status": exc.status}, exc.status, headers=headers)

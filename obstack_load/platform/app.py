"""Assembles the reference platform's Starlette app: routes, health, /metrics, /openapi.json."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import yaml
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from obstack_load.core.config import REPO_ROOT
from obstack_load.core.tenants import load_population
from obstack_load.platform import api
from obstack_load.platform.auth import AuthError
from obstack_load.platform.backend import Unavailable
from obstack_load.platform.ingest import make_handler
from obstack_load.platform.live import live_logs
from obstack_load.platform.settings import PlatformSettings
from obstack_load.platform.state import PlatformState

OPENAPI_FILE = REPO_ROOT / "config" / "openapi.yaml"
logger = logging.getLogger("obstack.platform")


@functools.cache
def openapi_document(path: Path = OPENAPI_FILE) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    state: PlatformState = request.app.state.platform
    sweeper = request.app.state.sweeper
    checks = {
        "tenants": {"ok": bool(state.tenant_ids), "count": len(state.tenant_ids)},
        "storage": {"ok": True, **state.stored_totals()},
        "database": await state.backend.check(),
        "retention_sweeper": {"ok": sweeper is not None and not sweeper.done()},
        "live_tail": {
            "ok": True,
            "subscribers": sum(len(s) for s in state.live.subscribers.values()),
        },
    }
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
    )


async def metrics(request: Request) -> Response:
    state: PlatformState = request.app.state.platform
    await api.any_principal(state.backend, request.headers)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def openapi(request: Request) -> Response:
    await api.any_principal(request.app.state.platform.backend, request.headers)
    return JSONResponse(openapi_document())


class TestStall:
    """Testing only (``--test-stall-after-requests N --test-stall-seconds S``): once the platform
    has seen N requests it holds every request until S seconds have passed, like a long GC pause
    or a stuck disk. Tests use it to show what coordinated omission hides."""

    def __init__(self, app: ASGIApp, after_requests: int, seconds: float) -> None:
        self.app = app
        self.after_requests = after_requests
        self.seconds = seconds
        self.seen = 0
        self.stall_until: float | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen += 1
            loop = asyncio.get_running_loop()
            if self.stall_until is None and self.seen >= self.after_requests:
                self.stall_until = loop.time() + self.seconds
            if self.stall_until is not None and loop.time() < self.stall_until:
                await asyncio.sleep(self.stall_until - loop.time())
        await self.app(scope, receive, send)


class TestSlowPath:
    """Testing only (``--test-slow-path PATHS --test-slow-ms MS``): every answer to one of
    PATHS waits before it is sent, a known regression on chosen endpoints, so that
    ``obstack-load compare`` can be shown to flag exactly those. PATHS is comma-separated;
    ``PATH`` matches exactly, ``PATH*`` every path that starts with it, and ``PATH=MS`` gives
    that path its own delay instead of ``--test-slow-ms``."""

    def __init__(self, app: ASGIApp, paths: str, seconds: float) -> None:
        self.app = app
        self.rules = slow_path_rules(paths, seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        delay = self.delay(scope["path"]) if scope["type"] == "http" else 0.0
        if not delay:
            await self.app(scope, receive, send)
            return

        async def send_late(message: Message) -> None:
            # the request is handled first, then its answer waits: a client that gives up in
            # the meantime has had its request done (a refresh token used up, a write stored)
            if message["type"] == "http.response.start":
                await asyncio.sleep(delay)
            await send(message)

        await self.app(scope, receive, send_late)

    def delay(self, path: str) -> float:
        for pattern, prefix, seconds in self.rules:
            if path.startswith(pattern) if prefix else path == pattern:
                return seconds
        return 0.0


def slow_path_rules(paths: str, seconds: float) -> list[tuple[str, bool, float]]:
    """(pattern, is a prefix, delay in seconds) for each entry of ``--test-slow-path``."""
    rules = []
    for entry in filter(None, (e.strip() for e in paths.split(","))):
        pattern, _, ms = entry.partition("=")
        delay = float(ms) / 1000 if ms else seconds
        rules.append((pattern.rstrip("*"), pattern.endswith("*"), delay))
    return rules


class TestCapacity:
    """Testing only (``--test-capacity-slots N --test-service-ms MS``): a known capacity. Every
    request but /metrics and /readyz is served by one of N slots, first come first served, each
    busy for MS milliseconds, then handled as usual: the platform serves at most
    N / (MS / 1000) requests/s, and past that its queue and latency grow without bound, so a
    capacity search can be checked against the truth.

    The slots are virtual (each keeps the time it is next free) rather than a semaphore around
    a sleep: a sleep on a busy event loop overruns, which would lower the capacity below the
    stated one by however busy the machine is."""

    def __init__(self, app: ASGIApp, slots: int, seconds: float) -> None:
        self.app = app
        self.free_at = [0.0] * slots
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in ("/metrics", "/readyz"):
            now = asyncio.get_running_loop().time()
            slot = min(range(len(self.free_at)), key=self.free_at.__getitem__)
            done = max(now, self.free_at[slot]) + self.seconds
            self.free_at[slot] = done
            await asyncio.sleep(done - now)
        await self.app(scope, receive, send)


class TestCpu:
    """Testing only (``--test-cpu-ms MS``): every request but /metrics and /readyz
    first spends MS milliseconds of this thread's CPU, on the event loop, so one process serves
    at most about 1000 / MS requests/s on one core and its CPU is the limit: what a capacity
    search must then name. CPU time, not wall time, so that a busy machine does not count."""

    EXEMPT = ("/metrics", "/readyz")

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.EXEMPT:
            until = time.thread_time() + self.seconds
            while time.thread_time() < until:
                pass
        await self.app(scope, receive, send)


class CountRequests:
    """Counts every HTTP request by handler and status. Plain ASGI, because Starlette's
    BaseHTTPMiddleware costs a task per request on a path that must stay fast."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            endpoint = scope.get("endpoint")
            handler = getattr(endpoint, "__name__", "unmatched")
            state: PlatformState = scope["app"].state.platform
            state.metrics.requests.labels(handler, scope["method"], str(status)).inc()


ROUTES = [
    Route("/healthz", healthz),
    Route("/readyz", readyz),
    Route("/metrics", metrics),
    Route("/openapi.json", openapi),
    Route("/v1/logs", make_handler("logs"), methods=["POST"]),
    Route("/v1/metrics", make_handler("metrics"), methods=["POST"]),
    Route("/v1/traces", make_handler("traces"), methods=["POST"]),
    Route("/api/v1/auth/login", api.login, methods=["POST"]),
    Route("/api/v1/auth/refresh", api.refresh, methods=["POST"]),
    Route("/api/v1/auth/logout", api.logout, methods=["POST"]),
    Route("/api/v1/auth/me", api.whoami),
    Route("/api/v1/metrics/names", api.metric_names),
    Route("/api/v1/metrics/query", api.metrics_query),
    Route("/api/v1/logs/search", api.logs_search),
    Route("/api/v1/traces/search", api.traces_search),
    Route("/api/v1/traces/{trace_id}", api.trace_get),
    Route("/api/v1/dashboards", api.dashboards_list),
    Route("/api/v1/dashboards", api.dashboard_create, methods=["POST"]),
    Route("/api/v1/dashboards/{dashboard_id}", api.dashboard_get),
    Route("/api/v1/dashboards/{dashboard_id}/panels/{panel_id}/query", api.panel_query),
    Route("/api/v1/alerts", api.alerts_list),
    Route("/api/v1/alerts/{alert_id}/ack", api.alert_ack, methods=["POST"]),
    Route("/api/v1/usage", api.usage),
    Route("/api/v1/admin/tenant", api.admin_tenant),
    Route("/api/v1/admin/users", api.admin_users_list),
    Route("/api/v1/admin/users", api.admin_user_create, methods=["POST"]),
    Route("/api/v1/admin/users/{user_id}", api.admin_user_delete, methods=["DELETE"]),
    Route("/api/v1/admin/api-keys", api.admin_keys_list),
    Route("/api/v1/admin/api-keys", api.admin_key_create, methods=["POST"]),
    Route("/api/v1/admin/api-keys/{key_id}/rotate", api.admin_key_rotate, methods=["POST"]),
    Route("/api/v1/admin/api-keys/{key_id}", api.admin_key_delete, methods=["DELETE"]),
    WebSocketRoute("/api/v1/live/logs", live_logs),
]


async def _sweep_forever(state: PlatformState) -> None:
    while True:
        await asyncio.sleep(state.settings.sweep_interval_seconds)
        try:
            await state.sweep()
        except Unavailable as exc:  # the database is away: sweep again next time
            logger.warning("retention sweep skipped: %s", exc.message)


def build_app(settings: PlatformSettings) -> Starlette:
    state = PlatformState(settings, load_population(settings.tenants_file))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.backend.start()
        app.state.sweeper = asyncio.create_task(_sweep_forever(state))
        try:
            yield
        finally:
            app.state.sweeper.cancel()
            await state.backend.close()

    app = Starlette(
        routes=ROUTES,
        lifespan=lifespan,
        exception_handlers={
            api.ApiError: api.error_response,
            AuthError: api.error_response,
            Unavailable: api.error_response,
        },
    )
    app.state.platform = state
    app.state.sweeper = None
    app.add_middleware(CountRequests)
    if settings.test_stall_after_requests and settings.test_stall_seconds:
        app.add_middleware(
            TestStall,
            after_requests=settings.test_stall_after_requests,
            seconds=settings.test_stall_seconds,
        )
    if settings.test_capacity_slots and settings.test_service_ms:
        app.add_middleware(
            TestCapacity,
            slots=settings.test_capacity_slots,
            seconds=settings.test_service_ms / 1000,
        )
    if settings.test_cpu_ms:
        app.add_middleware(TestCpu, seconds=settings.test_cpu_ms / 1000)
    if settings.test_slow_path:
        app.add_middleware(
            TestSlowPath, paths=settings.test_slow_path, seconds=settings.test_slow_ms / 1000
        )
    return app

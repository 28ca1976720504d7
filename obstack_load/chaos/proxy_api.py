"""The fault proxy's HTTP control API, in Toxiproxy's JSON shapes (its clients work unchanged:
``chaostoolkit-toxiproxy`` is tested against it), and the server that runs both.

    obstack-load proxy --port 8474
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from obstack_load import __version__
from obstack_load.chaos.proxy import Proxies, ProxyError, Toxic

READY_LINE = "obstack-load proxy API on"


async def _body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise ProxyError("body must be JSON") from None


def _proxies(request: Request) -> Proxies:
    return request.app.state.proxies


async def version(request: Request) -> Response:
    return JSONResponse({"version": f"obstack-load-proxy {__version__}"})


async def list_proxies(request: Request) -> Response:
    return JSONResponse({n: p.as_dict() for n, p in _proxies(request).by_name.items()})


async def create_proxy(request: Request) -> Response:
    proxy = await _proxies(request).create(await _body(request))
    return JSONResponse(proxy.as_dict(), status_code=201)


async def populate(request: Request) -> Response:
    created = []
    proxies = _proxies(request)
    for data in await _body(request):
        if data.get("name") in proxies.by_name:
            await proxies.delete(data["name"])
        created.append((await proxies.create(data)).as_dict())
    return JSONResponse({"proxies": created}, status_code=201)


async def get_proxy(request: Request) -> Response:
    return JSONResponse(_proxies(request).get(request.path_params["name"]).as_dict())


async def update_proxy(request: Request) -> Response:
    proxy = _proxies(request).get(request.path_params["name"])
    data = await _body(request)
    if "enabled" in data:
        await proxy.set_enabled(bool(data["enabled"]))
    return JSONResponse(proxy.as_dict())


async def delete_proxy(request: Request) -> Response:
    await _proxies(request).delete(request.path_params["name"])
    return Response(status_code=204)


async def list_toxics(request: Request) -> Response:
    proxy = _proxies(request).get(request.path_params["name"])
    return JSONResponse([t.as_dict() for t in proxy.toxics.values()])


async def create_toxic(request: Request) -> Response:
    proxy = _proxies(request).get(request.path_params["name"])
    toxic = Toxic.parse(await _body(request))
    if toxic.name in proxy.toxics:
        raise ProxyError(f"toxic {toxic.name!r} already exists", 409)
    proxy.toxics[toxic.name] = toxic
    return JSONResponse(toxic.as_dict())


def _toxic(request: Request) -> tuple[Any, Toxic]:
    proxy = _proxies(request).get(request.path_params["name"])
    toxic = proxy.toxics.get(request.path_params["toxic"])
    if toxic is None:
        raise ProxyError(f"toxic {request.path_params['toxic']!r} not found", 404)
    return proxy, toxic


async def get_toxic(request: Request) -> Response:
    return JSONResponse(_toxic(request)[1].as_dict())


async def update_toxic(request: Request) -> Response:
    proxy, toxic = _toxic(request)
    data = await _body(request)
    updated = Toxic.parse({**toxic.as_dict(), **data, "name": toxic.name, "type": toxic.type,
                           "attributes": {**toxic.attributes, **(data.get("attributes") or {})}})  # fmt: skip
    proxy.toxics[toxic.name] = updated
    return JSONResponse(updated.as_dict())


async def delete_toxic(request: Request) -> Response:
    proxy, toxic = _toxic(request)
    del proxy.toxics[toxic.name]
    return Response(status_code=204)


async def reset(request: Request) -> Response:
    await _proxies(request).reset()
    return Response(status_code=204)


async def error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProxyError)
    return JSONResponse({"error": str(exc), "status": exc.status}, status_code=exc.status)


ROUTES = [
    Route("/version", version),
    Route("/reset", reset, methods=["POST"]),
    Route("/populate", populate, methods=["POST"]),
    Route("/proxies", list_proxies),
    Route("/proxies", create_proxy, methods=["POST"]),
    Route("/proxies/{name}", get_proxy),
    Route("/proxies/{name}", update_proxy, methods=["POST", "PATCH"]),
    Route("/proxies/{name}", delete_proxy, methods=["DELETE"]),
    Route("/proxies/{name}/toxics", list_toxics),
    Route("/proxies/{name}/toxics", create_toxic, methods=["POST"]),
    Route("/proxies/{name}/toxics/{toxic}", get_toxic),
    Route("/proxies/{name}/toxics/{toxic}", update_toxic, methods=["POST", "PATCH"]),
    Route("/proxies/{name}/toxics/{toxic}", delete_toxic, methods=["DELETE"]),
]


def build_app(initial: list[dict[str, Any]] | None = None, on_ready=None) -> Starlette:
    """The API; ``initial`` proxies (as ``POST /populate`` takes them) are made at start-up,
    and then ``on_ready()`` is called."""
    proxies = Proxies()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        for spec in initial or []:
            await proxies.create(spec)
        if on_ready is not None:
            on_ready()
        yield

    app = Starlette(routes=ROUTES, exception_handlers={ProxyError: error}, lifespan=lifespan)
    app.state.proxies = proxies
    return app


def parse_proxy(text: str) -> dict[str, Any]:
    """``NAME=LISTEN=UPSTREAM`` (``db=127.0.0.1:6432=127.0.0.1:5432``), as ``--proxy`` takes it."""
    parts = text.split("=")
    if len(parts) != 3 or not all(parts):
        raise ValueError(
            f"--proxy {text!r}: use NAME=LISTEN=UPSTREAM, e.g. db=127.0.0.1:6432=127.0.0.1:5432"
        )
    return {"name": parts[0], "listen": parts[1], "upstream": parts[2]}


def serve(host: str, port: int, initial: list[dict[str, Any]] | None = None) -> None:
    """Run the API (and the proxies it creates) until SIGTERM or Ctrl-C; a port from the OS
    with ``--port 0``, named on one line once listening, and each ``initial`` proxy listening."""
    import uvicorn

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise SystemExit(
            f"obstack-load proxy: cannot listen on {host}:{port}: {exc.strerror}"
        ) from None
    sock.listen(128)
    url = f"http://{host}:{sock.getsockname()[1]}"
    app = build_app(initial, on_ready=lambda: print(f"{READY_LINE} {url}", flush=True))
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])

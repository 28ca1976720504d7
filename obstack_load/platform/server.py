"""Runs the reference platform under uvicorn (uvloop + httptools) until SIGTERM or Ctrl-C.

We bind the socket ourselves so that ``--port 0`` takes a free port from the OS, and print the
real address on one line that scripts and tests wait for.
"""

from __future__ import annotations

import signal
import socket
import sys

import uvicorn

from obstack_load.platform.app import build_app
from obstack_load.platform.settings import PlatformSettings

READY_LINE = "obstack platform listening on"


def serve(settings: PlatformSettings) -> None:
    if settings.db:  # a bad DSN or a database that does not answer: one line, nothing listening
        from obstack_load.platform.postgres import check_dsn

        check_dsn(settings.db)
    app = build_app(settings)  # before binding: a bad tenants file fails with nothing listening
    if settings.test_startup_delay:
        import time

        time.sleep(settings.test_startup_delay)  # testing only: a known time to come back
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        raise SystemExit(
            f"obstack-load platform: cannot listen on {settings.host}:{settings.port}: {exc.strerror}"
        ) from None
    sock.listen(2048)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
        # longer than any client leaves a connection idle (nginx's default): uvicorn's own 5 s
        # closes idle keep-alive connections just as a client sends on them, and a POST sent
        # then is lost with no answer (seen as "refresh failed: HTTP 0" under load in CI)
        timeout_keep_alive=75,
        ws_ping_interval=None,  # clients measure latency; server pings would add noise
    )
    server = uvicorn.Server(config)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"{READY_LINE} http://{host}:{port}", flush=True)
    # uvicorn re-raises the signal that stopped it once it has shut down gracefully; a no-op
    # handler for SIGTERM turns that into a clean exit with status 0, as service managers expect.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    server.run(sockets=[sock])
    print("obstack platform stopped", file=sys.stderr, flush=True)

"""Live tail over WebSocket: ``/api/v1/live/logs`` streams a tenant's newly ingested log records.

Each message carries ``sent_at_ns``, stamped just before it is written to the socket, so a client
can measure delivery latency. A slow client gets a bounded queue and loses the oldest backlog
(counted in /metrics) rather than growing the server's memory.
"""

from __future__ import annotations

import asyncio
import json
import time

from starlette.websockets import WebSocket, WebSocketDisconnect

from obstack_load.platform.api import authenticate
from obstack_load.platform.auth import AuthError
from obstack_load.platform.backend import Unavailable

UNAUTHORIZED = 4401  # application close codes live in 4000-4999
TRY_AGAIN_LATER = 1013  # RFC 6455's registry: the store cannot answer now


async def live_logs(websocket: WebSocket) -> None:
    state = websocket.app.state.platform
    await websocket.accept()
    try:
        principal = await authenticate(state.backend, websocket.headers)
    except AuthError as exc:
        await websocket.close(code=UNAUTHORIZED, reason=exc.message)
        return
    except Unavailable as exc:
        await websocket.close(code=TRY_AGAIN_LATER, reason=exc.message)
        return
    service = websocket.query_params.get("service")
    queue = state.live.subscribe(principal.tenant_id)
    receiver = asyncio.create_task(_drain(websocket))
    try:
        await websocket.send_text(
            json.dumps(
                {
                    "type": "subscribed",
                    "tenant_id": principal.tenant_id,
                    "sent_at_ns": time.time_ns(),
                }
            )
        )
        sent, drop_after = 0, state.settings.test_live_drop_after
        while not receiver.done():
            if drop_after and sent >= drop_after:  # test-only fault: the socket is dropped
                await websocket.close(code=1012, reason="test: dropped")
                break
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            item = getter.result()
            if service:
                records = [r for r in item.message["records"] if r["service"] == service]
                if not records:
                    continue
                await websocket.send_text(
                    json.dumps({**item.message, "records": records, "sent_at_ns": time.time_ns()})
                )
            else:
                await websocket.send_text(item.encode(time.time_ns()))
            sent += 1
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        pass
    finally:
        receiver.cancel()
        state.live.unsubscribe(principal.tenant_id, queue)


async def _drain(websocket: WebSocket) -> None:
    """Read until the client goes away; clients only send pings or nothing."""
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
    except (WebSocketDisconnect, RuntimeError):
        return

"""Live tail over WebSocket: delivery with a server send time, and auth."""

from __future__ import annotations

import json
import random
import time

import requests
import websocket

from obstack_load.telemetry import logs, otlp


def test_live_tail_delivers_ingested_logs_with_send_time(platform, tenants):
    tenant = tenants.tenants[5]
    token = platform.token_for(tenants, 5)
    ws = platform.live_tail(token)
    try:
        message = logs.logs_request(tenant, random.Random(3), 7, {"obstack.marker": "live"})
        before = time.time_ns()
        response = requests.post(
            f"{platform.url}/v1/logs", data=otlp.encode(message),
            headers={"Content-Type": otlp.PROTOBUF, "X-API-Key": tenant.api_key}, timeout=30,
        )  # fmt: skip
        assert response.status_code == 200
        live = json.loads(ws.recv())
        received = time.time_ns()
        assert live["type"] == "logs"
        assert len(live["records"]) == 7
        assert before <= live["sent_at_ns"] <= received
    finally:
        ws.close()


def test_live_tail_refuses_missing_or_bad_token(platform):
    for header in ([], ["Authorization: Bearer not-a-token"]):
        ws = websocket.create_connection(
            platform.url.replace("http", "ws") + "/api/v1/live/logs", header=header, timeout=30
        )
        try:
            opcode, data = ws.recv_data(control_frame=True)
            assert opcode == websocket.ABNF.OPCODE_CLOSE
            assert int.from_bytes(data[:2], "big") == 4401  # our "unauthorized" close code
        finally:
            ws.close()

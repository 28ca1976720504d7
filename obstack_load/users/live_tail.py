"""WebSocket live-tail sessions: connect to ``/api/v1/live/logs`` and measure delivery.

Each message carries the server's ``sent_at_ns``; the delivery latency is the time from then to
its arrival here (same machine clock on loopback; across machines it includes clock skew, so
sync clocks with NTP or read it as an upper bound). Connect time, each message's latency, and
message latencies are fired as Locust request events (type ``WS``), so they appear in the
stats, the web UI, thresholds and the results database; the ``message`` entry's requests/s is
the message rate. A dropped connection is
reconnected with exponential backoff and jitter. ``websocket-client`` is blocking I/O on sockets
that gevent has patched, so thousands of sessions share one process.
"""

from __future__ import annotations

import json
import re
import time

import websocket
from locust import FastHttpUser, events, task

from obstack_load.run.options import add_option
from obstack_load.users.session import ApiSession
from obstack_load.users.tenancy import assign, pick_account

LIVE_PATH = "/api/v1/live/logs"
WINDOW_S = 5.0  # how long one task holds the socket before Locust's loop gets a turn


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:
    add_option(
        parser,
        "--live-path",
        default=LIVE_PATH,
        help=f"live-tail WebSocket path (default {LIVE_PATH})",
    )


HEAD = re.compile(r'\{"type":\s*"(?P<type>[^"]*)",\s*"tenant_id":\s*"(?P<tenant_id>[^"]*)"')
TAIL = re.compile(r'"sent_at_ns":\s*(\d+)\s*\}\s*$')


def read_header(raw: str) -> dict:
    """The message's tenant and send time without decoding its records: decoding every record
    of every message costs more CPU than the rest of the user together. Falls back to a full
    decode for a message laid out differently."""
    head, tail = HEAD.match(raw), TAIL.search(raw[-64:])
    if head and tail:
        return {
            "type": head["type"],
            "tenant_id": head["tenant_id"],
            "sent_at_ns": int(tail.group(1)),
        }
    return json.loads(raw)


class LiveTailUser(FastHttpUser):
    """Holds one live-tail WebSocket open for as long as it runs. Logs in over HTTP (its
    ``client``) for a token, and refreshes it before reconnecting."""

    max_backoff_s = 30.0

    def on_start(self) -> None:
        self.tenant, self.rng = assign(self.environment)
        self.session = ApiSession(
            self.client, self.tenant, pick_account(self.tenant, self.rng, "viewer")
        )
        self.session.login()
        self.backoff = 0.5
        self.ws: websocket.WebSocket | None = None

    def on_stop(self) -> None:
        if self.ws is not None:
            self.ws.close()
        self.session.logout()

    def fire(
        self, name: str, response_time: float, length: int = 0, exception: Exception | None = None
    ) -> None:
        self.environment.events.request.fire(
            request_type="WS", name=name, response_time=response_time, response_length=length,
            exception=exception, context={},
        )  # fmt: skip

    def connect(self) -> bool:
        url = self.host.replace("http", "ws", 1) + self.environment.parsed_options.live_path
        if self.session.access_token is None or time.monotonic() > self.session.expires_at - 1:
            self.session.refresh()
        started = time.perf_counter()
        try:
            self.ws = websocket.create_connection(
                url,
                header=[f"Authorization: Bearer {self.session.access_token}"],
                timeout=30,
                # websocket-client validates UTF-8 in pure Python, which costs more than the rest
                # of the user per message; the server is trusted to send valid text frames
                skip_utf8_validation=True,
            )
            greeting = json.loads(self.ws.recv())
            if greeting.get("type") != "subscribed":
                raise ConnectionError(f"unexpected greeting {greeting.get('type')!r}")
            if greeting.get("tenant_id") != self.tenant.tenant_id:
                raise ConnectionError(
                    f"CrossTenantLeak: subscribed to tenant {greeting.get('tenant_id')}"
                )
        except Exception as exc:
            self.fire("connect", (time.perf_counter() - started) * 1000, exception=exc)
            self.ws = None
            return False
        self.fire("connect", (time.perf_counter() - started) * 1000)
        self.backoff = 0.5
        return True

    @task
    def tail(self) -> None:
        if self.ws is None and not self.connect():
            # back off with jitter, so a fleet of users does not reconnect in lockstep
            self.backoff = min(self.backoff * 2, self.max_backoff_s)
            time.sleep(self.backoff * (0.5 + self.rng.random()))
            return
        window_end = time.monotonic() + WINDOW_S
        try:
            while time.monotonic() < window_end:
                self.ws.settimeout(max(window_end - time.monotonic(), 0.01))
                try:
                    raw = self.ws.recv()
                except websocket.WebSocketTimeoutException:
                    break
                arrived = time.time_ns()
                message = read_header(raw)
                if message.get("tenant_id") != self.tenant.tenant_id:
                    self.fire(
                        "message",
                        0,
                        len(raw),
                        ConnectionError(
                            f"CrossTenantLeak: message of tenant {message.get('tenant_id')}"
                        ),
                    )
                    continue
                self.fire("message", max(arrived - message["sent_at_ns"], 0) / 1e6, len(raw))
        except (websocket.WebSocketException, OSError) as exc:
            self.fire("connection dropped", 0, exception=exc)
            self.ws = None

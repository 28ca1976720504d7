"""A real HTTP/1.1 server on a free loopback port whose answers come from a script.

For the client-side rules that need an answer the reference platform never gives on purpose
(a dropped connection, a 503 with an HTTP date, a chunked body, ``Connection: close``, silence).
It is a gevent ``StreamServer``: the client under test talks to it over a real socket.
"""

from __future__ import annotations

import time

import gevent
from gevent.server import StreamServer

DROP = object()  # close the connection without answering
SILENT = object()  # never answer (the client's timeout must fire)


def answer(status: int, body: bytes = b"", headers: dict | None = None) -> bytes:
    head = [
        f"HTTP/1.1 {status} X",
        f"Content-Length: {len(body)}",
        "Content-Type: application/x-protobuf",
    ]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class ScriptedServer:
    def __init__(self, script: list) -> None:
        self.script = list(script)
        self.requests: list[float] = []
        self.connections = 0
        self.server = StreamServer(("127.0.0.1", 0), self.handle)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def handle(self, sock, address) -> None:
        self.connections += 1
        reader = sock.makefile("rb")
        while True:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = reader.readline()
                if not line:
                    return
                head += line
            length = int(
                next(
                    h.split(b":")[1]
                    for h in head.split(b"\r\n")
                    if h.lower().startswith(b"content-length")
                )
            )
            reader.read(length)
            self.requests.append(time.monotonic())
            step = self.script.pop(0)
            if step is DROP:
                sock.close()
                return
            if step is SILENT:
                gevent.sleep(30)
                return
            sock.sendall(step)
            if b"connection: close" in step.lower():
                sock.close()
                return

    def stop(self) -> None:
        self.server.stop()

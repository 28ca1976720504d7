"""A TCP fault proxy with Toxiproxy's toxics, on asyncio.

Toxiproxy is a Go binary that no Debian, PyPI or npm package ships, so this is a small one of
our own with the same vocabulary: proxies (``name``, ``listen``, ``upstream``, ``enabled``) and
toxics (``type``, ``stream`` upstream or downstream, ``toxicity`` 0..1, ``attributes``):

- ``latency`` {latency, jitter} ms added to each chunk;
- ``bandwidth`` {rate} KB/s;
- ``slow_close`` {delay} ms before a close is passed on;
- ``timeout`` {timeout} ms: no data passes, and the connection closes after it (0: held until
  the toxic is removed, then delivered);
- ``reset_peer`` {timeout} ms, then the connection is reset (RST);
- ``slicer`` {average_size, size_variation, delay}: chunks cut into pieces, ``delay`` in µs
  between them;
- ``limit_data`` {bytes}: the connection closes once that much has passed;
- a disabled proxy ("down") refuses connections and drops the ones it has.

As in Toxiproxy, toxicity is drawn once per connection and toxic, and toxics added or removed
apply to open connections from their next chunk. ``proxy_api`` serves the control API.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

TOXIC_ATTRIBUTES: dict[str, dict[str, float]] = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
    "limit_data": {"bytes": 0},
}
STREAMS = ("upstream", "downstream")
CHUNK = 32 * 1024


class ProxyError(ValueError):
    """A bad proxy or toxic definition; ``status`` is the HTTP status the API answers."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Toxic:
    name: str
    type: str
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: dict[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Toxic:
        kind = data.get("type")
        if kind not in TOXIC_ATTRIBUTES:
            raise ProxyError(f"unknown toxic type {kind!r}; one of {', '.join(TOXIC_ATTRIBUTES)}")
        stream = data.get("stream") or "downstream"
        if stream not in STREAMS:
            raise ProxyError(f"stream must be upstream or downstream, not {stream!r}")
        toxicity = data.get("toxicity", 1.0)
        if not isinstance(toxicity, int | float) or not 0 <= toxicity <= 1:
            raise ProxyError("toxicity must be a number from 0 to 1")
        attributes = dict(TOXIC_ATTRIBUTES[kind])
        for key, value in (data.get("attributes") or {}).items():
            if key not in attributes:
                raise ProxyError(f"{kind} has no attribute {key!r}; it has {', '.join(attributes)}")
            if not isinstance(value, int | float) or value < 0:
                raise ProxyError(f"{kind}.{key} must be a number of at least 0")
            attributes[key] = value
        name = data.get("name") or f"{kind}_{stream}"
        return cls(name, kind, stream, float(toxicity), attributes)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "stream": self.stream,
                "toxicity": self.toxicity, "attributes": self.attributes}  # fmt: skip


def split_address(text: str, what: str) -> tuple[str, int]:
    host, sep, port = str(text).rpartition(":")
    if not sep or not port.isdigit():
        raise ProxyError(f"{what} must be host:port, not {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class Link:
    """One client connection and its upstream connection."""

    def __init__(self, proxy: Proxy, client: tuple, upstream: tuple) -> None:
        self.proxy = proxy
        self.client_reader, self.client_writer = client
        self.upstream_reader, self.upstream_writer = upstream
        self.drawn: dict[str, bool] = {}  # toxic name: applies to this link
        self.passed = {"upstream": 0, "downstream": 0}
        self.tasks: list[asyncio.Task] = []

    def toxics(self, stream: str) -> list[Toxic]:
        out = []
        for toxic in self.proxy.toxics.values():
            if toxic.stream != stream:
                continue
            if toxic.name not in self.drawn:
                self.drawn[toxic.name] = random.random() < toxic.toxicity
            if self.drawn[toxic.name]:
                out.append(toxic)
        return out

    async def run(self) -> None:
        self.tasks = [
            asyncio.create_task(self.pipe("upstream", self.client_reader, self.upstream_writer)),
            asyncio.create_task(self.pipe("downstream", self.upstream_reader, self.client_writer)),
        ]
        try:
            # a pipe cancelled by close() (the proxy disabled) ends the link, and is no error
            await asyncio.gather(*self.tasks, return_exceptions=True)
        finally:
            self.close()

    def close(self, reset: bool = False) -> None:
        for writer in (self.client_writer, self.upstream_writer):
            if reset:
                sock = writer.get_extra_info("socket")
                if sock is not None:  # SO_LINGER 0: the close is a reset, not a FIN
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))  # fmt: skip
            with contextlib.suppress(Exception):
                writer.close()
        for task in self.tasks:
            if task is not asyncio.current_task():
                task.cancel()

    async def pipe(self, stream: str, reader: asyncio.StreamReader,
                   writer: asyncio.StreamWriter) -> None:  # fmt: skip
        while True:
            if await self.hold(stream):
                return
            data = await reader.read(CHUNK)
            if not data:
                for toxic in self.toxics(stream):
                    if toxic.type == "slow_close":
                        await sleep_at_least(toxic.attributes["delay"] / 1000)
                self.close()
                return
            if await self.hold(stream):
                return
            if not await self.deliver(stream, data, writer):
                self.close()
                return

    async def hold(self, stream: str) -> bool:
        """The connection-wide toxics: True when the link was closed by one."""
        for toxic in self.toxics(stream):
            if toxic.type == "reset_peer":
                await sleep_at_least(toxic.attributes["timeout"] / 1000)
                self.close(reset=True)
                return True
            if toxic.type == "timeout":
                if toxic.attributes["timeout"] > 0:
                    await sleep_at_least(toxic.attributes["timeout"] / 1000)
                    self.close()
                    return True
                while toxic.name in self.proxy.toxics:  # held until the toxic is removed
                    await asyncio.sleep(0.01)
        return False

    async def deliver(self, stream: str, data: bytes, writer: asyncio.StreamWriter) -> bool:
        """Write one chunk through the data toxics; False when limit_data ended the link."""
        pieces = [data]
        for toxic in self.toxics(stream):
            a = toxic.attributes
            if toxic.type == "latency":
                jitter = random.uniform(-a["jitter"], a["jitter"]) if a["jitter"] else 0.0
                await sleep_at_least(max(0.0, a["latency"] + jitter) / 1000)
            elif toxic.type == "bandwidth" and a["rate"] > 0:
                await sleep_at_least(len(data) / (a["rate"] * 1000))
            elif toxic.type == "slicer" and a["average_size"] > 0:
                pieces = list(slices(data, int(a["average_size"]), int(a["size_variation"])))
            elif toxic.type == "limit_data":
                room = int(a["bytes"]) - self.passed[stream]
                if room <= len(data):
                    if room > 0:
                        writer.write(data[:room])
                        self.passed[stream] += room
                        await writer.drain()
                    return False
        delay = next((t.attributes["delay"] for t in self.toxics(stream)
                      if t.type == "slicer"), 0)  # fmt: skip
        for index, piece in enumerate(pieces):
            if index and delay:
                await asyncio.sleep(delay / 1_000_000)
            writer.write(piece)
            await writer.drain()
        self.passed[stream] += len(data)
        return True


async def sleep_at_least(seconds: float) -> None:
    """``asyncio.sleep``, but never shorter. The API server runs on uvloop when it is installed
    (uvicorn's default), whose timers count whole milliseconds from a cached loop time, so a
    300 ms sleep can end a fraction of a millisecond early; a toxic promises at least its
    latency (CI measured 499.88 ms through 300 + 200 ms of latency)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(left)


def slices(data: bytes, average: int, variation: int):
    start = 0
    while start < len(data):
        size = max(1, average + (random.randint(-variation, variation) if variation else 0))
        yield data[start : start + size]
        start += size


class Proxy:
    def __init__(self, name: str, listen: str, upstream: str, enabled: bool = True) -> None:
        self.name = name
        self.listen_host, self.listen_port = split_address(listen, "listen")
        self.upstream_host, self.upstream_port = split_address(upstream, "upstream")
        self.enabled = enabled
        self.toxics: dict[str, Toxic] = {}
        self.server: asyncio.Server | None = None
        self.links: set[Link] = set()

    @property
    def listen(self) -> str:
        return f"{self.listen_host}:{self.listen_port}"

    @property
    def upstream(self) -> str:
        return f"{self.upstream_host}:{self.upstream_port}"

    async def start(self) -> None:
        if self.server is None:
            try:
                self.server = await asyncio.start_server(
                    self.accept, self.listen_host, self.listen_port
                )
            except OSError as exc:
                raise ProxyError(f"cannot listen on {self.listen}: {exc.strerror}", 409) from None
            self.listen_port = self.server.sockets[0].getsockname()[1]  # a port 0 is now real

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for link in list(self.links):
            link.close()

    async def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        await (self.start() if enabled else self.stop())

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.enabled:
            writer.close()
            return
        try:
            upstream = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        except OSError:
            writer.close()
            return
        link = Link(self, (reader, writer), upstream)
        self.links.add(link)
        try:
            await link.run()
        finally:
            self.links.discard(link)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "listen": self.listen, "upstream": self.upstream,
                "enabled": self.enabled,
                "toxics": [t.as_dict() for t in self.toxics.values()]}  # fmt: skip


class Proxies:
    """Every proxy of one server, by name."""

    def __init__(self) -> None:
        self.by_name: dict[str, Proxy] = {}

    async def create(self, data: dict[str, Any]) -> Proxy:
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise ProxyError("a proxy needs a name")
        if name in self.by_name:
            raise ProxyError(f"proxy {name!r} already exists", 409)
        proxy = Proxy(name, data.get("listen", "127.0.0.1:0"), data.get("upstream", ""),
                      bool(data.get("enabled", True)))  # fmt: skip
        if proxy.enabled:
            await proxy.start()
        self.by_name[name] = proxy
        return proxy

    def get(self, name: str) -> Proxy:
        if name not in self.by_name:
            raise ProxyError(f"proxy {name!r} not found", 404)
        return self.by_name[name]

    async def delete(self, name: str) -> None:
        await self.get(name).stop()
        del self.by_name[name]

    async def reset(self) -> None:
        """Every proxy enabled, every toxic removed (Toxiproxy's POST /reset)."""
        for proxy in self.by_name.values():
            proxy.toxics.clear()
            await proxy.set_enabled(True)

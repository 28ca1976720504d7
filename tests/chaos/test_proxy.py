"""The fault proxy's toxics one by one, against a scripted TCP server, through its control API
(a real ``obstack-load proxy`` process); and a Toxiproxy client nobody here wrote driving it.

Only lower bounds are asserted on time: a toxic that delays cannot make anything faster, so
"at least the latency asked for" holds on any machine, however busy."""

from __future__ import annotations

import queue
import socket
import socketserver
import subprocess
import sys
import threading
import time

import pytest
import requests

from tests.support import REPO, free_port


class Scripted(socketserver.BaseRequestHandler):
    """``ECHO text`` echoes the text, ``SEND n`` sends n bytes, ``CLOSE`` closes at once."""

    def handle(self) -> None:
        buffer = b""
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                command, _, argument = line.decode().partition(" ")
                if command == "ECHO":
                    self.request.sendall(argument.encode() + b"\n")
                elif command == "SEND":
                    self.request.sendall(b"x" * int(argument))
                elif command == "CLOSE":
                    self.request.close()
                    return


@pytest.fixture(scope="module")
def upstream():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Scripted)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def api():
    process = subprocess.Popen(
        [sys.executable, "-m", "obstack_load.cli", "proxy", "--port", "0"], cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in process.stdout], daemon=True).start()
    line = lines.get(timeout=60)
    assert "obstack-load proxy API on" in line, line
    url = line.split(" on ", 1)[1].strip()
    yield url
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def proxy(api, upstream):
    """A fresh proxy to the scripted server; its port."""
    requests.post(f"{api}/reset", timeout=30)
    name = f"p{free_port()}"
    made = requests.post(f"{api}/proxies", json={"name": name, "listen": "127.0.0.1:0",
                                                 "upstream": upstream}, timeout=30)  # fmt: skip
    assert made.status_code == 201, made.text
    port = int(made.json()["listen"].rsplit(":", 1)[1])
    yield name, port
    requests.delete(f"{api}/proxies/{name}", timeout=30)


def toxic(api, name, kind, stream="downstream", toxicity=1.0, **attributes):
    made = requests.post(f"{api}/proxies/{name}/toxics", json={
        "type": kind, "stream": stream, "toxicity": toxicity, "attributes": attributes,
    }, timeout=30)  # fmt: skip
    assert made.status_code == 200, made.text
    return made.json()


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def round_trip(port: int, text: str = "hello") -> tuple[bytes, float]:
    with connect(port) as sock:
        started = time.monotonic()
        sock.sendall(f"ECHO {text}\n".encode())
        got = b""
        while not got.endswith(b"\n"):
            got += sock.recv(1024)
        return got, time.monotonic() - started


def receive_all(sock: socket.socket) -> tuple[bytes, int]:
    """Everything until the peer closes, and in how many reads it came."""
    got, reads = b"", 0
    while chunk := sock.recv(65536):
        got, reads = got + chunk, reads + 1
    return got, reads


def test_a_clean_proxy_passes_bytes_unchanged(proxy):
    assert round_trip(proxy[1], "unchanged")[0] == b"unchanged\n"


def test_latency_adds_at_least_its_latency_each_way(api, proxy):
    name, port = proxy
    toxic(api, name, "latency", latency=300)
    toxic(api, name, "latency", stream="upstream", latency=200)
    got, took = round_trip(port)
    assert got == b"hello\n" and took >= 0.5


def test_toxicity_zero_never_applies(api, proxy):
    name, port = proxy
    toxic(api, name, "latency", toxicity=0.0, latency=5000)
    got, took = round_trip(port)
    assert got == b"hello\n" and took < 5.0


def test_bandwidth_holds_the_rate(api, proxy):
    name, port = proxy
    toxic(api, name, "bandwidth", rate=100)  # KB/s: 200 KB takes at least 2 s
    with connect(port) as sock:
        started = time.monotonic()
        sock.sendall(b"SEND 200000\nCLOSE\n")
        got, _ = receive_all(sock)
        assert len(got) == 200_000 and time.monotonic() - started >= 1.9


def test_reset_peer_resets_the_connection(api, proxy):
    name, port = proxy
    toxic(api, name, "reset_peer", timeout=100)
    with connect(port) as sock, pytest.raises(ConnectionResetError):
        sock.sendall(b"ECHO never\n")
        receive_all(sock)


def test_timeout_passes_nothing_and_closes_after_it(api, proxy):
    name, port = proxy
    toxic(api, name, "timeout", timeout=300)
    started = time.monotonic()  # before the connect: the proxy's clock starts when it accepts
    with connect(port) as sock:
        sock.sendall(b"ECHO never\n")
        got, _ = receive_all(sock)
        assert got == b"" and time.monotonic() - started >= 0.3


def test_timeout_zero_holds_the_data_until_the_toxic_is_removed(api, proxy):
    name, port = proxy
    held = toxic(api, name, "timeout", timeout=0)
    with connect(port) as sock:
        sock.sendall(b"ECHO later\n")
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(1024)  # nothing while the toxic is there
        assert requests.delete(f"{api}/proxies/{name}/toxics/{held['name']}", timeout=30).ok
        sock.settimeout(30)
        assert sock.recv(1024) == b"later\n"


def test_slicer_cuts_the_stream_into_pieces_and_keeps_every_byte(api, proxy):
    name, port = proxy
    toxic(api, name, "slicer", average_size=100, size_variation=20, delay=2000)
    with connect(port) as sock:
        sock.sendall(b"SEND 5000\nCLOSE\n")
        got, reads = receive_all(sock)
    assert got == b"x" * 5000 and reads >= 10


def test_limit_data_closes_after_that_many_bytes(api, proxy):
    name, port = proxy
    toxic(api, name, "limit_data", bytes=1234)
    with connect(port) as sock:
        sock.sendall(b"SEND 100000\n")
        got, _ = receive_all(sock)
    assert len(got) == 1234


def test_slow_close_delays_the_close(api, proxy):
    name, port = proxy
    toxic(api, name, "slow_close", delay=400)
    with connect(port) as sock:
        started = time.monotonic()
        sock.sendall(b"CLOSE\n")
        assert receive_all(sock)[0] == b""
        assert time.monotonic() - started >= 0.4


def test_a_disabled_proxy_refuses_and_an_enabled_one_serves_again(api, proxy):
    name, port = proxy
    assert requests.post(f"{api}/proxies/{name}", json={"enabled": False}, timeout=30).ok
    with pytest.raises(OSError):
        round_trip(port)
    assert requests.post(f"{api}/proxies/{name}", json={"enabled": True}, timeout=30).ok
    assert round_trip(port)[0] == b"hello\n"


def test_bad_definitions_get_toxiproxy_shaped_errors(api, proxy):
    name, _ = proxy
    bad = requests.post(f"{api}/proxies/{name}/toxics", json={"type": "gremlins"}, timeout=30)
    assert bad.status_code == 400 and "unknown toxic type 'gremlins'" in bad.json()["error"]
    bad = requests.post(f"{api}/proxies/{name}/toxics",
                        json={"type": "latency", "attributes": {"latency": -1}}, timeout=30)  # fmt: skip
    assert bad.status_code == 400 and "latency.latency" in bad.json()["error"]
    assert requests.get(f"{api}/proxies/nothing", timeout=30).status_code == 404
    listed = requests.get(f"{api}/proxies", timeout=30).json()
    assert listed[name]["enabled"] is True and listed[name]["toxics"] == []


def test_chaostoolkit_toxiproxy_drives_the_proxy(api, upstream):
    """Chaos Toolkit's own Toxiproxy driver creates a proxy and a latency toxic; the latency is
    measured on the wire; then it removes the toxic and the proxy."""
    from chaostoxi.proxy.actions import create_proxy, delete_proxy
    from chaostoxi.toxic.actions import create_latency_toxic, delete_toxic

    host, port = api.removeprefix("http://").rsplit(":", 1)
    configuration = {"toxiproxy_host": host, "toxiproxy_port": int(port)}
    upstream_host, upstream_port = upstream.rsplit(":", 1)
    assert create_proxy("ctk", upstream_host, int(upstream_port), "127.0.0.1", 0,
                        configuration=configuration)  # fmt: skip
    listen = int(configuration["ctk_PORT"])
    _, plain = round_trip(listen)
    assert create_latency_toxic("ctk", "slow", 400, configuration=configuration)
    got, slowed = round_trip(listen)
    assert got == b"hello\n" and slowed >= 0.4 and slowed > plain
    delete_toxic("ctk", "slow", configuration=configuration)
    assert requests.get(f"{api}/proxies/ctk/toxics", timeout=30).json() == []
    delete_proxy("ctk", configuration=configuration)
    assert "ctk" not in requests.get(f"{api}/proxies", timeout=30).json()

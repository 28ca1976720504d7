"""netem between two services in namespaces this test makes: where the kernel has sch_netem,
a 200 ms delay shows on the wire; where it does not (this project's CI machine), applying it
is one line saying so, never an obscure failure."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from obstack_load.chaos import netem
from tests import netns


@pytest.fixture
def network():
    if not netns.available():
        pytest.fail("network namespaces need root and iproute2 (apt-get install iproute2)")
    made = netns.Network().open()
    made.add_host("server")  # its link inside its namespace: oi<tag>1
    made.add_host("client")
    yield made
    made.close()


def test_netem_delays_the_link_or_says_in_one_line_why_it_cannot(network):
    device = f"oi{network.tag}1"
    why = netem.available()
    if why is not None:
        assert "\n" not in why and "netem" in why
        with pytest.raises(netem.NetemUnavailable) as raised:
            netem.apply(network.namespace("server"), device, netem.Netem(delay_ms=200))
        assert "\n" not in str(raised.value) and "netem" in str(raised.value)
        return
    server = subprocess.Popen(
        [*network.prefix("server"), sys.executable, "-c",
         "import socket; s=socket.create_server(('0.0.0.0', 9000)); c,_=s.accept(); "
         "c.sendall(c.recv(10))"],
    )  # fmt: skip
    try:
        netem.apply(network.namespace("server"), device, netem.Netem(delay_ms=200))
        started = time.monotonic()
        probe = subprocess.run(
            [*network.prefix("client"), sys.executable, "-c",
             f"import socket,time; s=socket.create_connection(('{network.hosts['server']}', 9000), 30); "
             "s.sendall(b'ping'); print(s.recv(10))"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert "ping" in probe.stdout and time.monotonic() - started >= 0.2
    finally:
        netem.remove(network.namespace("server"), device)
        server.kill()

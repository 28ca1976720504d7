"""Linux network namespaces made by a test: separate hosts on one machine, joined by a bridge.

Each host gets its own namespace with a veth pair to a private bridge and an address in
10.213.N.0/24, so traffic between them really crosses a (virtual) network. Needs root and iproute2;
everything made here is removed again by ``close``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field


def available() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@dataclass
class Network:
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    subnet: int = 0
    hosts: dict[str, str] = field(default_factory=dict)  # name -> address

    @property
    def bridge(self) -> str:
        return f"obr{self.tag}"

    def namespace(self, name: str) -> str:
        return f"obst-{self.tag}-{name}"

    def prefix(self, name: str) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.namespace(name))

    def open(self) -> Network:
        """Make the bridge; the test process itself reaches the hosts through it at .254."""
        self.subnet = int(self.tag, 16) % 200 + 20
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"10.213.{self.subnet}.254/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        return self

    def add_host(self, name: str) -> str:
        index = len(self.hosts) + 1
        namespace = self.namespace(name)
        outside, inside = f"ov{self.tag}{index}", f"oi{self.tag}{index}"
        address = f"10.213.{self.subnet}.{index}"
        ip("netns", "add", namespace)
        ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        ip("link", "set", inside, "netns", namespace)
        ip("link", "set", outside, "master", self.bridge)
        ip("link", "set", outside, "up")
        ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inside)
        ip("-n", namespace, "link", "set", inside, "up")
        ip("-n", namespace, "link", "set", "lo", "up")
        self.hosts[name] = address
        return address

    def close(self) -> None:
        for name in list(self.hosts):
            subprocess.run(
                ["ip", "netns", "del", self.namespace(name)], capture_output=True, timeout=30
            )
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, timeout=30)

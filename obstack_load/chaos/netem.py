"""Network faults with ``tc netem``: delay, jitter and packet loss on an interface inside a
network namespace, between two services.

netem needs the kernel's ``sch_netem`` module and root. Where the kernel lacks it (a container
host, this project's CI machine), ``apply`` says so in one line, ``NetemUnavailable``, instead
of failing obscurely; ``available()`` tells beforehand, by trying it in a throwaway namespace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass


class NetemUnavailable(RuntimeError):
    """netem cannot run here; the message is one line saying why."""


@dataclass(frozen=True)
class Netem:
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss_percent: float = 0.0

    def arguments(self) -> list[str]:
        out = ["netem"]
        if self.delay_ms:
            out += ["delay", f"{self.delay_ms}ms"]
            if self.jitter_ms:
                out.append(f"{self.jitter_ms}ms")
        if self.loss_percent:
            out += ["loss", f"{self.loss_percent}%"]
        return out


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=30)


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "tc netem needs root"
    if not shutil.which("tc") or not shutil.which("ip"):
        return "tc netem needs iproute2 (tc and ip)"
    return None


def apply(namespace: str, device: str, fault: Netem) -> None:
    """Put ``fault`` on ``device`` inside ``namespace`` (replacing any netem already there)."""
    reason = _why_not()
    if reason:
        raise NetemUnavailable(reason)
    done = _run("ip", "netns", "exec", namespace, "tc", "qdisc", "replace", "dev", device,
                "root", *fault.arguments())  # fmt: skip
    if done.returncode:
        detail = " ".join(done.stderr.split()) or f"exit {done.returncode}"
        if "unknown" in detail.lower():
            raise NetemUnavailable(
                f"tc netem is not available in this kernel (no sch_netem module): {detail}"
            )
        raise NetemUnavailable(f"tc netem on {namespace}/{device} failed: {detail}")


def remove(namespace: str, device: str) -> None:
    _run("ip", "netns", "exec", namespace, "tc", "qdisc", "del", "dev", device, "root")


def available() -> str | None:
    """None when netem works here; otherwise the one line saying why not."""
    reason = _why_not()
    if reason:
        return reason
    namespace = f"obst-netem-{uuid.uuid4().hex[:6]}"
    if _run("ip", "netns", "add", namespace).returncode:
        return "cannot make a network namespace to try netem in"
    try:
        _run("ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up")
        apply(namespace, "lo", Netem(delay_ms=1))
        return None
    except NetemUnavailable as exc:
        return str(exc)
    finally:
        _run("ip", "netns", "del", namespace)

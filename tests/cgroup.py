"""Starve a process of CPU for a test: a CPU cgroup of its own with a quota (v2's ``cpu.max``
or v1's ``cpu.cfs_quota_us``), the way a Kubernetes CPU limit throttles a pod. Needs root, as
CI has; the process goes back where it was, and the group is removed, at the end."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


def available() -> bool:
    return os.geteuid() == 0 and (_v2() or (ROOT / "cpu" / "cpu.cfs_quota_us").exists())


def _v2() -> bool:
    return (ROOT / "cgroup.controllers").exists() and "cpu" in (
        ROOT / "cgroup.controllers"
    ).read_text()


@contextlib.contextmanager
def cpu_limited(pid: int, percent: float):
    """``pid`` gets at most ``percent`` of one core while inside."""
    quota = max(1000, int(PERIOD_US * percent / 100))
    if _v2():
        parent = ROOT
        group = ROOT / f"obstack-test-{uuid.uuid4().hex[:8]}"
        group.mkdir()
        (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
    else:
        parent = ROOT / "cpu"
        group = parent / f"obstack-test-{uuid.uuid4().hex[:8]}"
        group.mkdir()
        (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(quota))
    try:
        (group / "cgroup.procs").write_text(str(pid))
        yield
    finally:
        with contextlib.suppress(OSError):  # it may have exited meanwhile
            (parent / "cgroup.procs").write_text(str(pid))
        group.rmdir()

"""An experiment cut short mid-fault rolls its fault back, wherever SIGTERM lands: on the
Locust process (as `timeout` or a CI cancellation sends it) or on `obstack-load chaos run`,
which passes it on and waits. The fault proxy listens on a port of its own, not Toxiproxy's
8474, so that a rollback that ignored TOXIPROXY_URL could not succeed by chance."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import psutil
import pytest
import requests

from tests.chaos.rig import CHAOS_TIMEOUT_S, start_rig
from tests.support import REPO, wait_for

EXIT_INTERRUPTED = 130


def proxy_enabled(api: str, name: str) -> bool:
    return requests.get(f"{api}/proxies/{name}", timeout=10).json()["enabled"]


@pytest.mark.parametrize("target", ["locust", "chaos-run"])
def test_sigterm_mid_fault_rolls_the_fault_back(postgres, tmp_path, target):
    rig = start_rig(postgres, f"chaos_cut_{target.replace('-', '_')}", tmp_path)
    api = rig.env["TOXIPROXY_URL"]
    assert not api.rstrip("/").endswith(":8474"), api
    summary = tmp_path / "summary.json"
    command = [
        sys.executable, "-m", "obstack_load.cli", "chaos", "run", "config/chaos/database-down.yaml",
        "--host", rig.host, "--results-db", str(tmp_path / "results.db"),
        "--summary-json", str(summary),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO, env={**os.environ, **rig.env}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    children: list[psutil.Process] = []
    try:
        # the experiment's own action took the database away, through TOXIPROXY_URL
        wait_for(lambda: not proxy_enabled(api, "postgres"), timeout=240, interval=0.2)
        children = psutil.Process(process.pid).children(recursive=True)
        (locust,) = [c for c in children if "locust" in " ".join(c.cmdline())]
        os.kill(locust.pid if target == "locust" else process.pid, signal.SIGTERM)
        out, _ = process.communicate(timeout=CHAOS_TIMEOUT_S)
        enabled = proxy_enabled(api, "postgres")  # the proxy's own word, while the rig is up
    finally:
        if process.poll() is None:
            process.kill()
        for child in children:
            if child.is_running():
                child.kill()
        rig.stop()
    assert process.returncode == EXIT_INTERRUPTED, out[-5000:]
    assert enabled, "the database is still cut off after the run"
    assert not [c for c in children if _alive(c)], "a Locust process outlived the command"
    data = json.loads(summary.read_text())
    assert data["exit_code"] == EXIT_INTERRUPTED and data["trouble"] == [], data["trouble"]
    assert "chaos rollback" not in out


def test_a_rollback_that_fails_is_the_first_line_of_trouble_and_the_exit_code(postgres, tmp_path):
    """The fault proxy itself is gone when the run is cut short: the rollback cannot reach it,
    and the run says so first, names the fault left in place, and exits 9 (fault-left)."""
    rig = start_rig(postgres, "chaos_cut_rollback_fails", tmp_path)
    api = rig.env["TOXIPROXY_URL"]
    summary = tmp_path / "summary.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "obstack_load.cli", "chaos", "run",
         "config/chaos/database-down.yaml", "--host", rig.host,
         "--results-db", str(tmp_path / "results.db"), "--summary-json", str(summary)],
        cwd=REPO, env={**os.environ, **rig.env}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: not proxy_enabled(api, "postgres"), timeout=240, interval=0.2)
        proxy = rig.processes[0]  # the rig's first process is the fault proxy
        proxy.terminate()
        proxy.wait(timeout=60)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=CHAOS_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
        rig.stop()
    assert process.returncode == 9, out[-5000:]
    data = json.loads(summary.read_text())
    (trouble,) = data["trouble"]
    assert trouble.startswith("chaos rollback 'reset-the-proxies' failed (")
    assert trouble.endswith("; left in place: proxy postgres down"), trouble
    summary_lines = out[out.index("obstack-load summary") :].splitlines()
    assert summary_lines[1] == f"  !! {trouble}", summary_lines[:3]
    assert data["status"] == "fault-left"


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False

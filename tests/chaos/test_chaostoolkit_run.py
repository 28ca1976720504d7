"""Chaos Toolkit's own ``chaos run`` on a ready experiment file, unchanged: the file's control
starts the load (Locust with its web UI, whose stats the load probes read through
``locust_web_url``) and stops it at the end,
the proxy partitions the network for 20 s, and Chaos Toolkit checks the steady state before and
after, runs the wait for recovery and the rollbacks, and writes its journal."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from obstack_load.chaos.control import current_rps
from tests.support import REPO, free_port, start_platform, start_process


def test_chaos_toolkits_own_chaos_run_works_on_our_file(tmp_path):
    platform = start_platform()
    listen = free_port()
    proxy, proxy_output, line = start_process([
        sys.executable, "-m", "obstack_load.cli", "proxy", "--port", "0",
        "--proxy", f"platform=127.0.0.1:{listen}={platform.url.removeprefix('http://')}",
    ], "obstack-load proxy API on")  # fmt: skip
    host, web = f"http://127.0.0.1:{listen}", f"http://127.0.0.1:{free_port()}"
    journal = tmp_path / "journal.json"
    try:
        done = subprocess.run(
            [shutil.which("chaos", path=str(Path(sys.executable).parent)), "run",
             "--journal-path", str(journal), "config/chaos/network-partition.yaml"],
            cwd=REPO, capture_output=True, text=True, timeout=600,
            env={**os.environ, "TOXIPROXY_URL": line.split(" on ", 1)[1].strip(),
                 "OBSTACK_HOST": host, "LOCUST_WEB_URL": web},
        )  # fmt: skip
    finally:
        proxy.terminate()
        proxy.wait(timeout=60)
        platform.stop()
    record = json.loads(journal.read_text())
    assert done.returncode == 0 and record["status"] == "completed", done.stderr[-5000:]
    assert "Starting the load" in done.stderr and "Stopping the load" in done.stderr
    assert record["steady_states"]["before"]["steady_state_met"]
    assert record["steady_states"]["after"]["steady_state_met"]
    ran = [(r["activity"]["name"], r["status"]) for r in record["run"]]
    assert ran == [("partition-the-network", "succeeded"), ("heal-the-network", "succeeded"),
                   ("wait-for-recovery", "succeeded")]  # fmt: skip
    assert record["run"][-1]["output"] >= 0, "recovered within its budget"
    assert [r["activity"]["name"] for r in record["rollbacks"]] == ["reset-the-proxies"]
    assert current_rps(web) == 0.0, "the control stopped the load it started"

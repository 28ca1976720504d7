"""Chaos Toolkit's own ``chaos run`` on each of the six ready experiment files, unchanged, on
the same stack ``obstack-load chaos run`` passes them on (tests/chaos/test_chaos_*_e2e.py): the
file's control starts the load (Locust with its web UI), the fault goes on and off, Chaos
Toolkit checks the steady state before and after, runs the wait for recovery and the
rollbacks, and writes its journal. Each must end ``completed``, as the suite's verdict passes
it: the load probes' windows start at the last fault change (``/obstack/window``), and
``wait-for-recovery`` waits for the whole hypothesis, so the check after the method is never
judged on the outage's requests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from obstack_load.chaos.control import current_rps
from tests.chaos.rig import CHAOS_TIMEOUT_S, start_rig
from tests.support import REPO, free_port

READY = ["database-down", "database-latency", "platform-killed", "network-partition",
         "slow-link", "ingestion-503-storm"]  # fmt: skip
HERE = READY[:3]  # the other three in test_chaostoolkit_run_network.py: the shards share them


def chaos_toolkit_run(
    rig, experiment: str, tmp_path: Path
) -> tuple[subprocess.CompletedProcess, dict, str]:
    web = f"http://127.0.0.1:{free_port()}"
    journal = tmp_path / "journal.json"
    done = subprocess.run(
        [shutil.which("chaos", path=str(Path(sys.executable).parent)), "run",
         "--journal-path", str(journal), f"config/chaos/{experiment}.yaml"],
        cwd=REPO, capture_output=True, text=True, timeout=CHAOS_TIMEOUT_S,
        env={**os.environ, **rig.env, "OBSTACK_HOST": rig.host, "LOCUST_WEB_URL": web},
    )  # fmt: skip
    assert journal.exists(), done.stderr[-5000:]
    return done, json.loads(journal.read_text()), web


def agrees_with_the_suite(postgres, tmp_path: Path, experiment: str) -> None:
    rig = start_rig(postgres, f"ctk_{experiment.replace('-', '_')}", tmp_path)
    try:
        done, record, web = chaos_toolkit_run(rig, experiment, tmp_path)
    finally:
        rig.stop()
    failed = [(r["activity"]["name"], r.get("output"), r.get("exception"))
              for r in record["run"] if r["status"] != "succeeded"]  # fmt: skip
    after = record["steady_states"].get("after") or {}
    deviated = [(p["activity"]["name"], p.get("output")) for p in after.get("probes", [])
                if not p.get("tolerance_met", True)]  # fmt: skip
    assert record["status"] == "completed", (record["status"], failed, deviated,
                                             done.stderr[-3000:])  # fmt: skip
    assert done.returncode == 0
    assert "Starting the load" in done.stderr and "Stopping the load" in done.stderr
    assert record["steady_states"]["before"]["steady_state_met"]
    assert after["steady_state_met"]
    assert not failed
    (recovery,) = [
        r["output"] for r in record["run"] if r["activity"]["name"] == "wait-for-recovery"
    ]
    assert recovery >= 0, "recovered within its budget"
    assert current_rps(web) == 0.0, "the control stopped the load it started"


@pytest.mark.timeout(CHAOS_TIMEOUT_S + 120)
@pytest.mark.parametrize("experiment", HERE)
def test_chaos_toolkits_own_chaos_run_agrees_with_the_suite(postgres, tmp_path, experiment):
    agrees_with_the_suite(postgres, tmp_path, experiment)

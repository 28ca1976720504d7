"""The Kubernetes variants of two ready experiments (config/chaos/kubernetes/): Chaos Toolkit's
own validator takes them with its Kubernetes extension installed (it imports each activity's
module and checks its arguments against the function), the suite's loader takes them, and an
action of another extension is timed as a fault by our control, so recovery runs from its end.
They have not been run against a cluster here, and say so."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from obstack_load.chaos import control, experiment, runs
from tests.support import REPO

KUBERNETES = sorted((REPO / "config" / "chaos" / "kubernetes").glob("*.yaml"))


def test_there_are_the_two_variants():
    assert [p.name for p in KUBERNETES] == ["database-down.yaml", "platform-killed.yaml"]


@pytest.mark.parametrize("path", KUBERNETES, ids=lambda p: p.name)
def test_chaos_toolkits_validator_and_the_suite_take_them(path: Path):
    chaos = shutil.which("chaos", path=str(Path(sys.executable).parent))
    done = subprocess.run([chaos, "validate", str(path)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "experiment syntax and semantic look valid" in done.stderr + done.stdout
    settings = experiment.load(str(path))
    actions = [a for a in settings.experiment["method"] if a["type"] == "action"]
    assert actions[0]["provider"]["module"] == "chaosk8s.pod.actions"
    assert actions[0]["provider"]["func"] == "terminate_pods"
    assert "NOT RUN AGAINST A CLUSTER HERE" in path.read_text()


def test_another_extensions_action_is_timed_as_a_fault_and_ours_are_not(monkeypatch):
    monkeypatch.setattr(runs, "unattached", runs.Unattached())
    theirs = {"type": "action", "name": "delete-an-api-pod",
              "provider": {"type": "python", "module": "chaosk8s.pod.actions",
                           "func": "terminate_pods"}}  # fmt: skip
    ours = {"type": "action", "name": "wait-for-recovery",
            "provider": {"type": "python", "module": control.OUR_ACTIONS,
                         "func": "wait_for_recovery"}}  # fmt: skip
    for activity in (theirs, ours):
        control.before_activity_control(activity, configuration={})
        control.after_activity_control(activity, configuration={})
    changes = [(fault, on) for _, fault, on in runs.unattached.changes]
    assert changes == [("action delete-an-api-pod", True), ("action delete-an-api-pod", False)]
    assert runs.unattached.last_off() is not None

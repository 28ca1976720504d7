"""An experiment file's mistakes are one line naming the file and the key, before any load:
from ``obstack-load chaos run`` and from ``locust --chaos-experiment``; and every ready
experiment in config/chaos/ passes Chaos Toolkit's own checks and ours."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from obstack_load.chaos import experiment
from obstack_load.core.config import ConfigError
from tests.support import REPO, run_locust

READY = sorted((REPO / "config" / "chaos").glob("*.yaml"))
PARTITION = REPO / "config" / "chaos" / "network-partition.yaml"


def test_there_are_seven_ready_experiments_and_each_is_valid():
    assert [p.stem for p in READY] == [
        "database-down", "database-latency", "ingestion-503-storm", "network-partition",
        "observe-only", "platform-killed", "slow-link",
    ]  # fmt: skip
    for path in READY:
        settings = experiment.load(path)
        assert settings.load.config == "config/chaos/load.conf" and settings.recovery_budget_s > 0
        names = [a["name"] for a in settings.experiment["method"]]
        assert names[-1] == "wait-for-recovery", path


def broken(tmp_path: Path, change) -> Path:
    data = yaml.safe_load(PARTITION.read_text())
    change(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def obstack(data: dict) -> dict:
    return next(e for e in data["extensions"] if e["name"] == "obstack")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("method"), "broken.yaml: an experiment requires a method"),
        (lambda d: obstack(d).update(recovery_budget_s="soon"),
         "broken.yaml: extensions.obstack.recovery_budget_s: must be a number, got 'soon'"),
        (lambda d: obstack(d).update(probes=[{"name": "x", "provider": {}, "tolerance": True}]),
         "broken.yaml: extensions.obstack.probes[0].mode: must be one of before, after, "
         "continuous, during, got None"),
        (lambda d: obstack(d)["load"].update(users=0),
         "broken.yaml: extensions.obstack.load.users: must be >= 1, got 0"),
        (lambda d: d["method"][0]["provider"].update(func="no_such_fault"),
         "broken.yaml: "),
    ],
)  # fmt: skip
def test_a_mistake_is_one_line_naming_the_file_and_key(tmp_path, change, message):
    path = broken(tmp_path, change)
    with pytest.raises(ConfigError) as caught:
        experiment.load(path)
    assert str(caught.value).startswith(str(tmp_path)) and message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_file_that_is_not_there_or_not_yaml_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the experiment"):
        experiment.load(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("title: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid yaml"):
        experiment.load(tmp_path / "bad.yaml")


def test_the_commands_refuse_a_bad_experiment_before_any_load(tmp_path):
    path = broken(tmp_path, lambda d: obstack(d).update(warmup_s=-1))
    done = subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", "chaos", "run", str(path),
         "--host", "http://127.0.0.1:9"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"obstack-load chaos: {path}: extensions.obstack.warmup_s: must be >= 0, got -1"
    )
    result = run_locust(
        "-f", "locustfiles/probe.py", "--headless", "--host", "http://127.0.0.1:9", "-u", "1",
        "-t", "5s", "--chaos-experiment", str(path),
    )  # fmt: skip
    assert result.returncode == 2
    assert f"obstack-load: {path}: extensions.obstack.warmup_s: must be >= 0" in result.stderr
    assert "Ramping" not in result.stderr, "no user may start"


def test_paths_in_an_experiment_are_its_own_not_the_current_directorys(tmp_path, monkeypatch):
    """From any directory, the ready files find their locustfile and load profile; a copy
    beside a locustfile and profile of its own finds those; a missing one is one line."""
    monkeypatch.chdir(tmp_path)
    settings = experiment.load(PARTITION)
    assert settings.load.locustfile_path == str(REPO / "locustfiles" / "mixed.py")
    assert settings.load.config_path == str(REPO / "config" / "chaos" / "load.conf")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "load.conf").write_text("users = 1\n")
    (tmp_path / "mine.py").write_text("")
    data = yaml.safe_load(PARTITION.read_text())
    ours = next(e for e in data["extensions"] if e["name"] == "obstack")
    ours["load"] = {"locustfile": "mine.py", "config": "load.conf"}
    (mine / "x.yaml").write_text(yaml.safe_dump(data))
    settings = experiment.load(mine / "x.yaml")
    assert settings.load.locustfile_path == str(tmp_path / "mine.py")  # a folder above it
    assert settings.load.config_path == str(mine / "load.conf")  # beside it
    ours["load"] = {"locustfile": "nowhere.py"}
    (mine / "y.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as error:
        experiment.load(mine / "y.yaml")
    assert str(error.value) == (
        f"{mine / 'y.yaml'}: extensions.obstack.load.locustfile: nowhere.py: no such file next "
        "to the experiment or in a folder above it"
    )


def test_the_loads_backstop_outlasts_everything_the_experiment_may_wait_for():
    """The load's --run-time only bounds the run: it must cover the warm-up, up to another one
    for the steady state, the recovery budget, the window the recovered hypothesis must then
    hold for, and the method's pauses (CI: a killed platform's run hit a backstop that counted
    only the warm-up and the budget)."""
    settings = experiment.load(REPO / "config" / "chaos" / "platform-killed.yaml")
    waits = 2 * settings.warmup_s + settings.recovery_budget_s + 5.0  # 5 s: the probes' window
    assert settings.longest_s() == waits
    assert settings.backstop_s() == int(waits + experiment.BACKSTOP_MARGIN_S)

"""``obstack-load chaos run FILE`` with no ``--host``: the command brings up the reference stack
itself (a throwaway PostgreSQL, the fault proxy, the supervised platform), runs the experiment,
and takes the stack down. Run from a directory outside the checkout with the experiment's
absolute path, as a user would: it passes, says what it started, loses no accepted point, and
leaves no process, port or file behind, also when SIGTERM cuts it short mid-fault."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from obstack_load.chaos import stack
from tests.chaos.rig import CHAOS_TIMEOUT_S
from tests.support import REPO, wait_for

EXPERIMENTS = REPO / "config" / "chaos"


def chaos_run(cwd: Path, experiment: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "obstack_load.cli", "chaos", "run", str(EXPERIMENTS / experiment),
         "--results-db", str(cwd / "results.db")],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def started(out: str) -> tuple[Path, list[int]]:
    """The stack's directory and every port it said it started on."""
    lines = [line for line in out.splitlines() if line.startswith("  started ")]
    assert len(lines) == 3, out[-3000:]
    directory = Path(re.search(r"data in (\S+)\)", lines[0]).group(1))  # type: ignore[union-attr]
    ports = [int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", " ".join(lines))]
    return directory, ports


def assert_nothing_left(directory: Path, ports: list[int]) -> None:
    assert not directory.exists(), f"{directory} left behind"
    for process in psutil.process_iter(["cmdline"]):
        assert str(directory) not in " ".join(process.info["cmdline"] or []), process
    for port in set(ports):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still listening"


@pytest.mark.timeout(CHAOS_TIMEOUT_S + 60)
def test_a_ready_experiment_with_no_host_brings_its_stack_up_and_down(tmp_path):
    process = chaos_run(tmp_path, "platform-killed.yaml")
    out, _ = process.communicate(timeout=CHAOS_TIMEOUT_S)
    assert process.returncode == 0, out[-5000:]
    assert "no --host: starting the reference stack" in out
    assert re.search(r"chaos verdict: PASSED; recovery time [\d.]+ s; 0 of [1-9]\d* accepted "
                     r"points lost", out), out[-3000:]  # fmt: skip
    assert "the reference stack is stopped and removed" in out
    assert "Traceback" not in out
    directory, ports = started(out)
    assert_nothing_left(directory, ports)


@pytest.mark.timeout(CHAOS_TIMEOUT_S + 60)
def test_sigterm_mid_fault_takes_the_stack_down_too(tmp_path):
    process = chaos_run(tmp_path, "database-down.yaml")
    lines: list[str] = []
    try:
        for line in process.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if "fault on" in line.lower() or "take-the-database-away" in line:
                break
        else:
            pytest.fail("".join(lines)[-4000:])
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=CHAOS_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
    out = "".join(lines) + rest
    assert process.returncode == 130, out[-5000:]
    assert "the reference stack is stopped and removed" in out
    directory, ports = started(out)
    wait_for(lambda: not directory.exists(), timeout=30, interval=0.2)
    assert_nothing_left(directory, ports)


def test_no_postgresql_binaries_is_one_line_naming_what_to_install(tmp_path, monkeypatch):
    # PostgreSQL cannot be uninstalled here: the search for its binaries finds none instead
    monkeypatch.setattr(stack, "postgres_binary", lambda name: None)
    with pytest.raises(stack.StackError) as raised:
        stack.ThrowawayPostgres(tmp_path)
    assert str(raised.value).startswith("no PostgreSQL server binaries (initdb, pg_ctl)")
    assert "apt-get install postgresql" in str(raised.value)


@pytest.mark.timeout(CHAOS_TIMEOUT_S + 60)
def test_an_observe_only_run_measures_a_fault_from_elsewhere(tmp_path):
    """The suite does nothing to the target; the test hangs the platform from outside during
    the window for 8 s (SIGSTOP, then SIGCONT), as a fault injector would: the monitor times
    the unhealthy period it caused, and no accepted point is lost."""
    import json
    import os
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "obstack_load.cli", "chaos", "run",
         str(EXPERIMENTS / "observe-only.yaml"), "--results-db", str(tmp_path / "results.db"),
         "--summary-json", str(tmp_path / "summary.json")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "OBSTACK_OBSERVE_S": "25"},
    )  # fmt: skip
    lines: list[str] = []
    try:
        for line in process.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if "Action: observe-the-window" in line:
                break
        else:
            pytest.fail("".join(lines)[-4000:])
        pidfile = re.search(r"pid file (\S+)\)", "".join(lines)).group(1)  # type: ignore[union-attr]
        pid = int(Path(pidfile).read_text())
        time.sleep(3)  # well inside the window
        os.kill(pid, signal.SIGSTOP)  # the fault from elsewhere
        try:
            time.sleep(8)
        finally:
            os.kill(pid, signal.SIGCONT)
        rest, _ = process.communicate(timeout=CHAOS_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
    out = "".join(lines) + rest
    assert process.returncode == 0, out[-5000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    unhealthy = summary["monitor"]["readyz"]["unhealthy_periods"]
    assert unhealthy and all(p["end"] is not None for p in unhealthy), summary["monitor"]
    assert summary["chaos"]["data"]["accepted"] > 0 and summary["chaos"]["data"]["lost"] == 0
    directory, ports = started(out)
    assert_nothing_left(directory, ports)

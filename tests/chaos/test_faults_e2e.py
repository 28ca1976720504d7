"""Process faults under a run, watched by the health monitor: the platform killed and restarted
by its supervisor (taking a known 5 s to listen again), and the platform paused and resumed.
The monitor's unhealthy periods must start no earlier than the fault and end no earlier than
the true recovery the supervisor recorded; those lower bounds hold on any machine."""

from __future__ import annotations

import json
import signal
import sys

from obstack_load.chaos.faults import Supervisor
from tests.support import REPO, answered, free_port, start_locust, wait_for

STARTUP_DELAY_S = 5.0


def readyz_answers(url: str, key: str) -> float:
    return answered(url, key, "readyz", "200")


def monitored_run(tmp_path, url: str):
    return start_locust(
        "-f", "locustfiles/probe.py", "--headless", "--host", url, "-u", "1", "-r", "1",
        "-t", "5m", "--monitor", "--only-summary", "--summary-json", str(tmp_path / "s.json"),
        "--results-db", str(tmp_path / "results.db"),
    )  # fmt: skip


def finish(locust, tmp_path) -> dict:
    locust.send_signal(signal.SIGTERM)
    out, err = locust.communicate(timeout=120)
    return json.loads((tmp_path / "s.json").read_text())["monitor"]


def supervised_platform(*extra: str) -> tuple[Supervisor, str]:
    port = free_port()
    supervisor = Supervisor(
        [sys.executable, "-m", "obstack_load.cli", "platform", "--port", str(port), *extra],
        ready_line="obstack platform listening on", cwd=str(REPO),
    )  # fmt: skip
    supervisor.start()
    assert supervisor.wait_ready()
    return supervisor, f"http://127.0.0.1:{port}"


def test_a_killed_platform_is_restarted_and_the_monitor_times_its_recovery(tenants, tmp_path):
    supervisor, url = supervised_platform("--test-startup-delay", str(STARTUP_DELAY_S))
    key = tenants.tenants[0].api_key
    locust = monitored_run(tmp_path, url)
    try:
        wait_for(lambda: readyz_answers(url, key) >= 3, timeout=120)
        supervisor.kill_and_restart()  # the new process listens only after its delay
        assert supervisor.wait_ready()
        wait_for(lambda: readyz_answers(url, key) >= 3, timeout=120)  # counted afresh
        monitor = finish(locust, tmp_path)
    finally:
        if locust.poll() is None:
            locust.kill()
        supervisor.stop()
    killed, ready = supervisor.last("killed"), supervisor.last("ready")
    assert ready - killed >= STARTUP_DELAY_S  # the truth: at least the delay it was told
    for probe in ("healthz", "readyz", "e2e"):
        periods = monitor[probe]["unhealthy_periods"]
        assert len(periods) == 1, (probe, monitor[probe])
        assert periods[0]["start"] >= killed and periods[0]["end"] >= ready, (probe, periods)
        assert monitor[probe]["healthy_at_end"]


def test_a_paused_platform_is_unhealthy_until_it_resumes(tenants, tmp_path):
    supervisor, url = supervised_platform()
    key = tenants.tenants[0].api_key
    locust = monitored_run(tmp_path, url)
    try:
        wait_for(lambda: readyz_answers(url, key) >= 3, timeout=120)
        supervisor.pause(6.0)  # every probe times out meanwhile: 3 in a row make it unhealthy
        before = readyz_answers(url, key)
        wait_for(lambda: readyz_answers(url, key) >= before + 3, timeout=120)
        monitor = finish(locust, tmp_path)
    finally:
        if locust.poll() is None:
            locust.kill()
        supervisor.stop()
    paused, resumed = supervisor.last("paused"), supervisor.last("resumed")
    periods = monitor["healthz"]["unhealthy_periods"]
    assert len(periods) == 1, monitor["healthz"]
    assert periods[0]["start"] >= paused and periods[0]["end"] >= resumed

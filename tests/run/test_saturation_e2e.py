"""The master's /metrics, scraped by a real Prometheus (Debian's), shows late iterations rising
when its worker is starved of CPU (a cgroup quota, as a Kubernetes CPU limit throttles a pod),
and the generator-bound flag up: the signal an autoscaler adds workers on. Also: the web UI's
port serves the same, and a port it cannot listen on is one line before any load."""

from __future__ import annotations

import signal

import pytest
import requests

from tests import cgroup
from tests.prometheus import missing, start_prometheus
from tests.support import (
    LIVENESS,
    free_port,
    one_error,
    run_locust,
    start_locust,
    start_platform,
    start_workers,
    wait_for,
)

RATE = 300  # iterations/s: a few % of a core unstarved, several times a 5% quota
# The run must outlast every wait below (up to 120 + 120 + 60 s after the worker joins), or a
# slow phase leaves the next one watching counters of a run that has ended; the test stops it
RUN_TIME_S = 330
STARVED_PERCENT = 5
BEHIND = "obstack_load_late_iterations_total + obstack_load_skipped_iterations_total"


@pytest.fixture
def platform():
    running = start_platform()
    yield running
    running.stop()


def test_late_iterations_rise_when_the_worker_is_starved_of_cpu(platform, tmp_path, tenants):
    if missing() or not cgroup.available():
        pytest.fail(
            f"needs Debian's prometheus ({missing()}) and root for a CPU cgroup: CI has both"
        )
    port, metrics = str(free_port()), free_port()
    master = start_locust(
        "-f", "locustfiles/probe.py", "--headless", "--master", "--expect-workers", "1",
        "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
        "--metrics-port", str(metrics), "--metrics-host", "127.0.0.1",
        "-u", "60", "-r", "60", "-t", f"{RUN_TIME_S}s", "--arrival-rate", str(RATE),
        "--host", platform.url, "--results-db", str(tmp_path / "results.db"), *LIVENESS,
    )  # fmt: skip
    wait_for(lambda: _answers(f"http://127.0.0.1:{metrics}/metrics"), timeout=120, interval=0.2)
    stack = start_prometheus(tmp_path / "prometheus", platform.url, tenants.tenants[0].api_key,
                             more={"obstack-load": f"127.0.0.1:{metrics}"})  # fmt: skip
    (worker,) = start_workers("locustfiles/probe.py", port, count=1)
    try:
        # unstarved: the same number of iterations as the starved window below will take
        start = _value(stack.wait_for("obstack_load_iterations_total > 300"))
        behind_before = _value(stack.query(BEHIND))
        wait_for(lambda: _value(stack.query("obstack_load_iterations_total")) > start + 1500,
                 timeout=120, interval=0.5)  # fmt: skip
        normal = _value(stack.query(BEHIND)) - behind_before
        with cgroup.cpu_limited(worker.pid, STARVED_PERCENT):
            starved_from = _value(stack.query(BEHIND))
            # late and skipped iterations rise: several times what the unstarved window had
            rose = []
            try:
                wait_for(
                    lambda: rose.append(_value(stack.query(BEHIND)) - starved_from)
                    or rose[-1] > max(5 * normal, 300),
                    timeout=120, interval=0.5,
                )  # fmt: skip
            except AssertionError:
                raise AssertionError(
                    f"behind rose by {rose[-1:]} while starved, against {normal} unstarved"
                ) from None
            stack.wait_for("max_over_time(obstack_load_generator_bound[30s]) == 1", timeout=60)
        assert stack.query("obstack_load_workers == 1")
        assert stack.query("obstack_load_offered_iterations_per_second == 300")
        assert stack.query('obstack_load_worker_cpu_percent{worker=~".+"}')
    finally:
        stack.stop()
        master.send_signal(signal.SIGTERM)
        master.communicate(timeout=300)
        worker.communicate(timeout=120)


def test_the_web_ui_serves_the_same_metrics(platform):
    web = free_port()
    master = start_locust(
        "-f", "locustfiles/probe.py", "--web-host", "127.0.0.1", "--web-port", str(web),
        "--host", platform.url, "--arrival-rate", "20", "-u", "5", "-r", "5", "--autostart",
        "-t", "60s",
    )  # fmt: skip
    try:
        text = wait_for(
            lambda: (t := _answers(f"http://127.0.0.1:{web}/metrics")) and
            "obstack_load_iterations_total" in t and _iterations(t) > 20 and t,
            timeout=120, interval=0.5,
        )  # fmt: skip
        assert "obstack_load_offered_iterations_per_second 20.0" in text
        assert 'obstack_load_worker_cpu_percent{worker="local"}' in text
        assert "obstack_load_generator_bound" in text
        assert "obstack_load_workers" not in text  # standalone: no workers to count
    finally:
        master.send_signal(signal.SIGTERM)
        master.communicate(timeout=300)


def test_a_metrics_port_in_use_is_one_line_before_any_load(platform):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_locust(
            "-f", "locustfiles/probe.py", "--headless", "-u", "1", "-t", "5s", "--host",
            platform.url, "--metrics-port", str(port), "--metrics-host", "127.0.0.1",
        )  # fmt: skip
    assert one_error(result).startswith(f"obstack-load: --metrics-port: cannot listen on {port}")


def _answers(url: str) -> str | None:
    try:
        answer = requests.get(url, timeout=5)
    except requests.ConnectionError:
        return None
    return answer.text if answer.status_code == 200 else None


def _value(result: list[dict]) -> float:
    return float(result[0]["value"][1]) if result else 0.0


def _iterations(text: str) -> float:
    for line in text.splitlines():
        if line.startswith("obstack_load_iterations_total "):
            return float(line.split()[1])
    return 0.0

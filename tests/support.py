"""Test helpers: start real processes (the platform, Locust) and wait on readiness, never on sleeps."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from obstack_load.core.tenants import Population, load_population
from obstack_load.platform.server import READY_LINE

REPO = Path(__file__).resolve().parent.parent
# A master's option for tests of what workers do, not of losing them: a worker starved past
# Locust's 3 s without a heartbeat is marked missing (CI, four shards on two cores: two workers
# at once, and the run ended)
LIVENESS = ("--worker-liveness", "15")
STARTUP_TIMEOUT = 60.0
# The profiles' latency SLOs replaced by correctness gates only: a slow, shared machine must not
# turn a test red (see tests/thresholds/correctness.yaml).
CORRECTNESS_ONLY = ("--thresholds-file", str(REPO / "tests" / "thresholds" / "correctness.yaml"))


@dataclass
class RunningPlatform:
    url: str
    process: subprocess.Popen
    output: list[str] = field(default_factory=list)

    def login(self, username: str, password: str) -> dict:
        response = requests.post(
            f"{self.url}/api/v1/auth/login",
            json={"username": username, "password": password},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()

    def token_for(self, population: Population, tenant_index: int, role: str = "admin") -> str:
        account = population.tenants[tenant_index].accounts_with_role(role)[0]
        return self.login(account.username, account.password)["access_token"]

    def live_tail(self, token: str):
        """A WebSocket on /api/v1/live/logs, past its "subscribed" greeting."""
        import json

        import websocket

        ws = websocket.create_connection(
            self.url.replace("http", "ws", 1) + "/api/v1/live/logs",
            header=[f"Authorization: Bearer {token}"],
            timeout=30,
        )
        assert json.loads(ws.recv())["type"] == "subscribed"
        return ws

    def get(self, path: str, token: str, **kwargs) -> requests.Response:
        return requests.get(
            f"{self.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30, **kwargs
        )

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        return self.process.returncode


def _pump(stream, lines: queue.Queue, sink: list[str]) -> None:
    for line in stream:
        sink.append(line)
        lines.put(line)


def start_platform(
    *args: str,
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    prefix: tuple[str, ...] = (),
    launcher: tuple[str, ...] = ("-m", "obstack_load.cli"),
) -> RunningPlatform:
    """Start ``obstack-load platform`` on a free port and return once /healthz answers.

    ``prefix`` wraps the command, e.g. ``("ip", "netns", "exec", "ns1")`` to run it in a namespace;
    ``launcher`` is what Python runs (a benchmark starts it with Locust imported first).
    """
    command = [
        *prefix,
        sys.executable,
        *launcher,
        "platform",
        "--host",
        host,
        "--port",
        "0",
        *args,
    ]
    process, output, line = start_process(command, READY_LINE, env)
    url = line.split(READY_LINE, 1)[1].strip()
    wait_until_healthy(url, time.monotonic() + STARTUP_TIMEOUT)
    return RunningPlatform(url, process, output)


def start_process(
    command: list[str], ready_line: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, list[str], str]:
    """Start ``command`` (output merged, kept in the list returned) and return once a line of its
    output contains ``ready_line``, with that line; kill it and raise if it never says so."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    lines: queue.Queue = queue.Queue()
    output: list[str] = []
    threading.Thread(target=_pump, args=(process.stdout, lines, output), daemon=True).start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or process.poll() is not None:
            process.kill()
            raise RuntimeError(f"{command[:4]} did not start:\n" + "".join(output))
        try:
            line = lines.get(timeout=min(remaining, 1.0))
        except queue.Empty:
            continue
        if ready_line in line:
            return process, output, line


def wait_until_healthy(url: str, deadline: float) -> None:
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url}/healthz never answered 200")
        time.sleep(0.05)  # a poll interval, not a wait for readiness


def population() -> Population:
    return load_population()


def answered(url: str, api_key: str, handler: str, code: str) -> float:
    """Requests the platform at ``url`` has answered by ``handler`` with ``code``, from its own
    /metrics (0 while it does not answer)."""
    from obstack_load.figures.target import scrape

    return sum(
        s.value for s in scrape(url, api_key, timeout=5) or []
        if s.name == "obstack_http_requests_total"
        and s.labels.get("handler") == handler and s.labels.get("code") == code
    )  # fmt: skip


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy; fail after a generous timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


LOCUST_TIMEOUT = 300


def locust_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", *args]


def run_locust(
    *args: str, timeout: float = LOCUST_TIMEOUT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run a real Locust process from the repository root and wait for it to finish."""
    return subprocess.run(
        locust_command(*args), cwd=REPO, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def run_headless(
    tmp_path: Path, platform: RunningPlatform, *args: str, locustfile: str = "locustfiles/ingest.py"
) -> tuple[subprocess.CompletedProcess, dict | None]:
    """A headless run against ``platform`` with its summary JSON and results database in
    ``tmp_path``; returns the process and the summary (None if it wrote none).

    --stop-timeout: a request in flight at the stop is finished and recorded, so the suite's
    counts and the platform's agree exactly (without it, the platform may count one more)."""
    import json

    summary = tmp_path / "summary.json"
    result = run_locust(
        "-f", locustfile, "--headless", "--only-summary", "--host", platform.url,
        "--stop-timeout", "30", "--summary-json", str(summary),
        "--results-db", str(tmp_path / "results.db"), *args,
    )  # fmt: skip
    return result, json.loads(summary.read_text()) if summary.exists() else None


def start_locust(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        locust_command(*args), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def start_workers(locustfile: str, port: str, count: int = 2) -> list[subprocess.Popen]:
    """``count`` real Locust workers of a master listening on 127.0.0.1:``port``."""
    return [
        start_locust(
            "-f", locustfile, "--worker", "--master-host", "127.0.0.1", "--master-port", port
        )
        for _ in range(count)
    ]


def run_master_and_workers(
    master_args: list[str], worker_args: list[str], workers: int = 2
) -> subprocess.CompletedProcess:
    """A real Locust master and ``workers`` real worker processes on a free loopback port;
    returns once the master has finished and every worker has stopped. For tests of what
    workers do: a worker starved of CPU is not marked missing (``LIVENESS``; CI lost both
    workers of a 10 s run to Locust's 3 s, and the run ended ``degraded``)."""
    port = str(free_port())
    master = start_locust(
        *master_args, "--master", "--expect-workers", str(workers),
        "--master-bind-host", "127.0.0.1", "--master-bind-port", port, *LIVENESS,
    )  # fmt: skip
    started = [
        start_locust(*worker_args, "--worker", "--master-host", "127.0.0.1", "--master-port", port)
        for _ in range(workers)
    ]
    try:
        out, err = master.communicate(timeout=LOCUST_TIMEOUT)
        for worker in started:
            worker.wait(timeout=120)
    finally:
        for process in (master, *started):
            if process.poll() is None:
                process.kill()
    return subprocess.CompletedProcess(master.args, master.returncode, out, err)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_error(result: subprocess.CompletedProcess) -> str:
    """The one ``obstack-load:`` line a bad input gets, with exit code 2 and no user started."""
    output = result.stderr + result.stdout
    assert result.returncode == 2, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert "Ramping" not in output and "Shape test" not in output, "no user may start"
    errors = [line for line in result.stderr.splitlines() if line.startswith("obstack-load:")]
    assert len(errors) == 1, result.stderr[-3000:]
    return errors[0]


@contextlib.contextmanager
def smtp_server(inbox: Path, user: str, password: str):
    """A real SMTP server (aiosmtpd, tests/smtp_server.py) in its own process, writing each
    message to ``inbox`` as N.eml; yields the OBSTACK_SMTP_* environment that sends to it."""
    server = subprocess.Popen(
        [sys.executable, "-W", "ignore", "-P", str(REPO / "tests" / "smtp_server.py"), str(inbox),
         user, password],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        port = wait_for(server.stdout.readline, timeout=60).split()[1]
        yield {
            "OBSTACK_SMTP_HOST": "127.0.0.1", "OBSTACK_SMTP_PORT": port,
            "OBSTACK_SMTP_USER": user, "OBSTACK_SMTP_PASSWORD": password,
            "OBSTACK_SMTP_FROM": "load@example.test",
        }  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=60)

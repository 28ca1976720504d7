"""A real Prometheus for the tests (Debian's ``prometheus``), with its node and PostgreSQL
exporters, scraping a platform every second: what a user's deployment gives the suite's
``--prometheus``. Each process on a free port, in a temporary directory, stopped at the end."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml

from tests.support import free_port

SCRAPE_INTERVAL_S = 1.0
STARTUP_TIMEOUT = 120.0
BINARIES = ("prometheus", "prometheus-node-exporter", "prometheus-postgres-exporter")


def missing() -> list[str]:
    return [name for name in BINARIES if shutil.which(name) is None]


@dataclass
class PrometheusStack:
    url: str
    processes: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def query(self, promql: str) -> list[dict]:
        answer = requests.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        answer.raise_for_status()
        return answer.json()["data"]["result"]

    def wait_for(self, promql: str, timeout: float = STARTUP_TIMEOUT) -> list[dict]:
        """The query's answer once it has one series, at the latest by ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                found = self.query(promql)
            except requests.RequestException:
                found = []
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"Prometheus never answered {promql}: {self.output()}")

    def output(self) -> str:
        return "".join(log.read_text(errors="replace")[-3000:] for log in self.logs if log.exists())

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start_prometheus(workdir: Path, platform_url: str, api_key: str,
                     postgres_dsn: str | None = None,
                     more: dict[str, str] | None = None) -> PrometheusStack:  # fmt: skip
    """Prometheus scraping the platform (job ``obstack-platform``, with a tenant's key as its
    bearer token), node-exporter (job ``node``), given a DSN, postgres-exporter (job
    ``postgres``), and ``more`` (job name: host:port); returns once every job's ``up`` is 1."""
    workdir.mkdir(parents=True, exist_ok=True)
    stack = PrometheusStack("")

    def spawn(name: str, *args: str, env: dict | None = None) -> None:
        log = workdir / f"{name}.log"
        stack.logs.append(log)
        with log.open("w") as out:
            stack.processes.append(subprocess.Popen(
                [name, *args], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir,
            ))  # fmt: skip

    node_port = free_port()
    spawn("prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{node_port}",
          "--collector.disable-defaults", "--collector.cpu", "--collector.meminfo",
          "--collector.loadavg")  # fmt: skip
    platform = platform_url.split("://", 1)[1].rstrip("/")
    jobs = [
        {"job_name": "obstack-platform", "static_configs": [{"targets": [platform]}],
         "authorization": {"credentials": api_key}},
        {"job_name": "node", "static_configs": [{"targets": [f"127.0.0.1:{node_port}"]}]},
    ]  # fmt: skip
    if postgres_dsn:
        pg_port = free_port()
        spawn("prometheus-postgres-exporter", f"--web.listen-address=127.0.0.1:{pg_port}",
              env={"DATA_SOURCE_NAME": postgres_dsn + ("&" if "?" in postgres_dsn else "?")
                   + "sslmode=disable", "PATH": "/usr/bin:/bin"})  # fmt: skip
        jobs.append({"job_name": "postgres",
                     "static_configs": [{"targets": [f"127.0.0.1:{pg_port}"]}]})  # fmt: skip
    for name, target in (more or {}).items():
        jobs.append({"job_name": name, "static_configs": [{"targets": [target]}]})
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": f"{SCRAPE_INTERVAL_S:g}s",
                   "evaluation_interval": f"{SCRAPE_INTERVAL_S:g}s"},
        "scrape_configs": jobs,
    }))  # fmt: skip
    port = free_port()
    spawn("prometheus", f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
          f"--web.listen-address=127.0.0.1:{port}")  # fmt: skip
    stack.url = f"http://127.0.0.1:{port}"
    try:
        for job in jobs:
            stack.wait_for(f'up{{job="{job["job_name"]}"}} == 1')
    except BaseException:
        stack.stop()
        raise
    return stack

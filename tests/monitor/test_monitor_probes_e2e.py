"""The monitor's probes are the target's to choose: against nginx (a target the suite did not
start, with no API contract) it runs only the probes asked for, at the paths given, and makes
no finding of the others; against the platform its end-to-end probe renews its credentials
when they expire, so an expiry is never an outage; a probe name it does not know is one line."""

from __future__ import annotations

import json

from benchmarks.sink import limited_nginx
from tests.support import run_locust, start_platform


def monitored(tmp_path, host: str, *args: str):
    summary = tmp_path / "summary.json"
    done = run_locust(
        "-f", "locustfiles/probe.py", "--headless", "-u", "2", "-r", "2", "--run-time", "6s",
        "--host", host, "--only-summary", "--monitor", "--monitor-interval", "0.5",
        "--results-db", str(tmp_path / "results.db"), "--summary-json", str(summary), *args,
    )  # fmt: skip
    return done, json.loads(summary.read_text()) if summary.exists() else None


def test_against_nginx_only_the_probes_asked_for_run(tmp_path):
    with limited_nginx(rate=10_000, metrics="missing") as url:
        done, summary = monitored(
            tmp_path, url, "--monitor-probes", "healthz,readyz",
            "--monitor-healthz-path", "/", "--monitor-readyz-path", "/ready",
        )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    monitor = summary["monitor"]
    assert sorted(monitor) == ["healthz", "readyz"], "no e2e finding on a target without the API"
    for probe in ("healthz", "readyz"):
        assert monitor[probe]["samples"] > 3 and monitor[probe]["failures"] == 0, monitor


def test_the_e2e_probe_renews_its_credentials_when_they_expire(tmp_path):
    platform = start_platform("--token-ttl", "1")  # every read-back outlives a token or two
    try:
        done, summary = monitored(tmp_path, platform.url, "--monitor-probes", "e2e")
    finally:
        platform.stop()
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    e2e = summary["monitor"]["e2e"]
    assert e2e["samples"] > 5 and e2e["failures"] == 0, e2e


def test_an_unknown_probe_is_one_line_before_any_load(tmp_path):
    done, summary = monitored(tmp_path, "http://127.0.0.1:9", "--monitor-probes", "healthz,ping")
    assert done.returncode == 2 and summary is None
    assert done.stderr.strip().splitlines()[-1] == (
        "obstack-load: --monitor-probes: ping: give one or more of healthz, readyz, e2e"
    )

"""A chaos experiment, the health monitor, the target figures, the database figures and the run
report against a target the suite did not start: nginx (answering "ok" to anything, its
/metrics a plain-text page), behind the fault proxy, partitioned for 10 s. The run must pass
with no traceback, say n/a for what it cannot measure (the target's CPU and memory, its pool,
the data check it was told not to make), and its report must render."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from benchmarks.sink import limited_nginx
from tests.chaos.rig import CHAOS_TIMEOUT_S
from tests.support import REPO, free_port, start_process

ARTIFACTS = REPO / "results" / "test-artifacts"


def experiment_for_nginx(tmp_path):
    data = yaml.safe_load((REPO / "config" / "chaos" / "network-partition.yaml").read_text())
    data["title"] = "nginx partitioned for 10 s"
    data["steady-state-hypothesis"]["probes"] = [
        p for p in data["steady-state-hypothesis"]["probes"] if p["name"] != "end-to-end"
    ]
    for probe in data["steady-state-hypothesis"]["probes"]:
        if probe["provider"]["func"] == "healthy":
            probe["provider"]["arguments"]["probe"] = "healthz"
    for action in data["method"]:
        if (action.get("pauses") or {}).get("after"):
            action["pauses"]["after"] = 10
    (ours,) = [e for e in data["extensions"] if e["name"] == "obstack"]
    ours["load"] = {"locustfile": str(REPO / "locustfiles" / "probe.py"), "users": 5,
                    "spawn_rate": 5}  # fmt: skip
    ours["verify_data"] = False  # nginx keeps nothing: the data check is not made (n/a)
    ours["warmup_s"] = 3
    ours.pop("allowance", None)
    path = tmp_path / "nginx-partitioned.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_chaos_experiment_against_nginx_passes_and_says_na(tmp_path):
    experiment = experiment_for_nginx(tmp_path)
    summary, db = tmp_path / "summary.json", tmp_path / "results.db"
    with limited_nginx(rate=1000, metrics="text") as nginx:
        listen = free_port()
        proxy, _, line = start_process([
            sys.executable, "-m", "obstack_load.cli", "proxy", "--port", "0",
            "--proxy", f"platform=127.0.0.1:{listen}={nginx.removeprefix('http://')}",
        ], "obstack-load proxy API on")  # fmt: skip
        try:
            done = subprocess.run(
                [sys.executable, "-m", "obstack_load.cli", "chaos", "run", str(experiment),
                 "--host", f"http://127.0.0.1:{listen}", "--results-db", str(db),
                 "--summary-json", str(summary), "--", "--monitor-probes", "healthz,readyz"],
                cwd=tmp_path, capture_output=True, text=True, timeout=CHAOS_TIMEOUT_S,
                env={**os.environ, "TOXIPROXY_URL": line.split(" on ", 1)[1].strip()},
            )  # fmt: skip
        finally:
            proxy.terminate()
            proxy.wait(timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    assert "Traceback" not in output
    result = json.loads(summary.read_text())
    chaos = result["chaos"]
    assert chaos["passed"] and chaos["data"]["lost"] is None, chaos  # not checked: n/a
    assert "data not checked" in output
    assert chaos["fault_on_at"] < chaos["fault_off_at"]
    # the monitor probed nginx through the proxy: unhealthy while it was partitioned
    assert result["monitor"]["healthz"]["unhealthy_periods"], result["monitor"]
    assert set(result["target_figures"]["na"]) == {"cpu_seconds", "memory_bytes"}
    assert "database" not in result  # no pool figure was made up from a page that is not metrics
    assert "the target's figures are n/a" in output and "not Prometheus text" in output

    report = tmp_path / "report.html"
    shown = subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", "report", "latest", "--results-db", str(db),
         "--html", str(report)], cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr[-3000:]
    html = report.read_text()
    assert "nginx partitioned for 10 s" in html and "CPU, the target" not in html
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = subprocess.run(
        [sys.executable, str(REPO / "tests" / "browser.py"), "--offline", str(report),
         str(ARTIFACTS / "foreign-target-chaos-report.png")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert page.returncode == 0, page.stderr[-3000:]

"""Live-tail users against the platform while smoke users ingest: connect, deliver, reconnect."""

from __future__ import annotations

import json

from tests.support import run_locust, start_platform


def test_live_tail_users_receive_their_tenants_logs(tmp_path):
    # one tenant, so every live-tail user is sure to see what the smoke users ingest
    tenants_file = tmp_path / "tenants.yaml"
    tenants_file.write_text("seed: 5\ntenants: {count: 1}\n")
    platform = start_platform("--tenants-file", str(tenants_file))
    try:
        summary_path = tmp_path / "summary.json"
        result = run_locust(
        "-f", "locustfiles/live.py,locustfiles/smoke.py", "--headless", "--only-summary", "--host", platform.url,
        "--tenants-file", str(tenants_file),
        "-u", "16", "-r", "16", "-t", "10s", "--summary-json", str(summary_path), "--results-db", str(tmp_path / "r.db"),
        "--threshold", "count{error=CrossTenantLeak}==0",
        )  # fmt: skip
    finally:
        platform.stop()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    summary = json.loads(summary_path.read_text())
    ws = {r["name"]: r for r in summary["requests"] if r["method"] == "WS"}
    assert ws["connect"]["requests"] == 8 and ws["connect"]["failures"] == 0
    assert ws["message"]["requests"] > 0 and ws["message"]["failures"] == 0
    assert ws["message"]["p95_ms"] < 10_000  # a latency in ms, measured from the server's send time

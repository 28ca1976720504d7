"""A real headless Locust process against a real platform process, checked from the platform's side."""

from __future__ import annotations

import json

from tests.support import CORRECTNESS_ONLY, run_locust, start_platform


def test_smoke_profile_against_platform(tmp_path, tenants):
    platform = start_platform()
    try:
        summary_path = tmp_path / "summary.json"
        result = run_locust(
            "--config", "config/smoke.conf", "--host", platform.url, "--run-time", "8s",
            "--users", "6", "--spawn-rate", "6", "--summary-json", str(summary_path),
            "--html", str(tmp_path / "report.html"), "--csv", str(tmp_path / "stats"),
            "--results-db", str(tmp_path / "results.db"), *CORRECTNESS_ONLY,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert "obstack-load summary" in result.stdout
        summary = json.loads(summary_path.read_text())
        totals = summary["totals"]
        assert totals["requests"] > 0 and totals["failures"] == 0
        assert summary["exit_code"] == 0
        names = {r["name"] for r in summary["requests"]}
        assert {
            "/v1/logs",
            "/v1/metrics",
            "/v1/traces",
            "/api/v1/logs/search",
            "/api/v1/traces/[id]",
        } <= names
        assert (tmp_path / "report.html").exists() and (tmp_path / "stats_stats.csv").exists()

        # what the platform counted, per tenant and signal, equals what Locust says it delivered
        sent = summary["ingest"]["by_signal_and_tenant"]
        tenants_seen = {t for per_tenant in sent.values() for t in per_tenant}
        assert tenants_seen
        for tenant_id in tenants_seen:
            index = [t.tenant_id for t in tenants.tenants].index(tenant_id)
            usage = platform.get("/api/v1/usage", platform.token_for(tenants, index)).json()[
                "signals"
            ]
            for signal in ("logs", "metrics", "traces"):
                ours = sent[signal][tenant_id]
                assert usage[signal]["accepted"] == ours["accepted_items"] == ours["sent_items"]
                assert usage[signal]["requests"] == ours["sent_requests"]
                assert usage[signal]["wire_bytes"] == ours["accepted_wire_bytes"]
        # no secret reaches the output
        output = result.stdout + result.stderr + summary_path.read_text()
        assert not any(secret in output for secret in tenants.secrets())
    finally:
        assert platform.stop() == 0


def test_bad_tenants_file_fails_before_load(tmp_path):
    bad = tmp_path / "tenants.yaml"
    bad.write_text("tenants: {count: lots}\n")
    result = run_locust(
        "--config", "config/smoke.conf", "--host", "http://127.0.0.1:9", "--run-time", "5s",
        "--tenants-file", str(bad), "--html", "", "--csv", "", "--summary-json", "",
        "--results-db", str(tmp_path / "results.db"),
    )  # fmt: skip
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("obstack-load:")]
    assert errors == [f"obstack-load: {bad}: tenants.count: must be an integer, got 'lots'"]
    assert "Ramping" not in result.stderr + result.stdout, "no user may start"

"""Real Locust ingestion runs against the real platform, checked from the platform's side."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.support import run_headless, run_locust, start_platform

SIGNALS = ("logs", "metrics", "traces")


ingest = run_headless


def platform_usage(platform, tenants, tenant_id: str) -> dict:
    index = [t.tenant_id for t in tenants.tenants].index(tenant_id)
    return platform.get("/api/v1/usage", platform.token_for(tenants, index)).json()["signals"]


def assert_platform_agrees(platform, tenants, summary, signals=SIGNALS) -> None:
    """Per tenant and signal, what the platform took equals what the suite says it delivered."""
    per_tenant = summary["ingest"]["by_signal_and_tenant"]
    assert set(per_tenant) == set(signals)
    seen = {t for counts in per_tenant.values() for t in counts}
    assert len(seen) >= 2, "users spread over several tenants"
    for tenant_id in seen:
        usage = platform_usage(platform, tenants, tenant_id)
        for signal in signals:
            ours = per_tenant[signal].get(tenant_id)
            if ours is None:
                assert usage[signal]["accepted"] == 0
                continue
            assert usage[signal]["accepted"] == ours["accepted_items"] > 0
            assert usage[signal]["requests"] == ours["sent_requests"]
            assert usage[signal]["throttled_requests"] == ours["throttled_requests"]
            assert usage[signal]["wire_bytes"] == ours["accepted_wire_bytes"]
            assert usage[signal]["raw_bytes"] == ours["accepted_raw_bytes"]
            for measure in ("requests", "items", "raw_bytes", "wire_bytes"):
                parts = sum(
                    ours[f"{o}_{measure}"] for o in ("accepted", "rejected", "throttled", "failed")
                )
                assert ours[f"sent_{measure}"] == parts, measure


@pytest.mark.parametrize(
    "knobs",
    [
        (),  # protobuf, gzip, bearer key: the defaults
        (
            "--otlp-encoding",
            "json",
            "--otlp-compression",
            "none",
            "--otlp-auth",
            "x-api-key",
            "--otlp-batch-size",
            "37",
        ),
    ],  # fmt: skip
    ids=["protobuf-gzip", "json-plain"],
)
def test_every_item_is_accounted_per_tenant_and_signal(tmp_path, tenants, knobs):
    platform = start_platform()
    try:
        result, summary = ingest(tmp_path, platform, "-u", "9", "-r", "9", "-t", "6s", *knobs)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert summary["totals"]["failures"] == 0
        assert_platform_agrees(platform, tenants, summary)
        for signal, counts in summary["ingest"]["by_signal"].items():
            assert counts["lost_batches"] == counts["rejected_items"] == 0
            if not knobs:
                # protobuf + gzip: about 3.5:1 (logs) to 7:1 (metrics), docs/ingestion.md
                assert 3 <= counts["compression_ratio"] <= 8.5, (
                    signal,
                    counts["compression_ratio"],
                )
                assert counts["sent_items"] == counts["sent_requests"] * 100
        assert "sent" in result.stdout and "accepted" in result.stdout
        # the results database holds the same ledger, per signal and tenant
        with sqlite3.connect(tmp_path / "results.db") as db:
            stored = db.execute(
                "SELECT signal, tenant_id, accepted_items, sent_wire_bytes FROM ingest_counts"
            ).fetchall()
        per_tenant = summary["ingest"]["by_signal_and_tenant"]
        assert sorted(stored) == sorted(
            (signal, tenant, c["accepted_items"], c["sent_wire_bytes"])
            for signal, tenants_counts in per_tenant.items()
            for tenant, c in tenants_counts.items()
        )
        output = result.stdout + result.stderr + (tmp_path / "summary.json").read_text()
        assert not any(secret in output for secret in tenants.secrets())
    finally:
        assert platform.stop() == 0


def test_throttling_is_retried_and_recorded_apart_from_errors(tmp_path, tenants):
    platform = start_platform("--ingest-rate-limit", "1500")
    try:
        result, summary = ingest(
            tmp_path, platform, "LogsIngestUser", "-u", "6", "-r", "6", "-t", "6s",
            "--otlp-retries", "20", "--otlp-retry-max-wait", "2s", "--tenants-file", "config/tenants.yaml",
        )  # fmt: skip
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        logs = summary["ingest"]["by_signal"]["logs"]
        assert logs["throttled_items"] > 0 and logs["retries"] > 0
        assert logs["lost_batches"] == 0
        names = {r["name"]: r for r in summary["requests"]}
        assert names["/v1/logs (throttled)"]["failures"] == 0
        assert names["/v1/logs"]["failures"] == 0
        assert_platform_agrees(platform, tenants, summary, ("logs",))
    finally:
        assert platform.stop() == 0


def test_with_retries_off_the_raw_429s_show_and_are_counted_lost(tmp_path, tenants):
    platform = start_platform("--ingest-rate-limit", "1500")
    try:
        result, summary = ingest(
            tmp_path,
            platform,
            "LogsIngestUser",
            "-u",
            "6",
            "-r",
            "6",
            "-t",
            "5s",
            "--otlp-retries",
            "0",
        )
        assert result.returncode == 1, "failed requests without thresholds: exit 1"
        logs = summary["ingest"]["by_signal"]["logs"]
        assert logs["throttled_items"] > 0 and logs["retries"] == 0
        assert logs["lost_items"] == logs["throttled_items"]
        names = {r["name"]: r for r in summary["requests"]}
        assert (
            names["/v1/logs (throttled)"]["failures"]
            == names["/v1/logs (throttled)"]["requests"]
            > 0
        )
        assert "LOST" in result.stdout
        assert_platform_agrees(platform, tenants, summary, ("logs",))
    finally:
        assert platform.stop() == 0


def test_ingest_then_verify_reports_zero_loss_and_visibility_latency(tmp_path, tenants):
    platform = start_platform()
    try:
        result, summary = ingest(
            tmp_path, platform, "LogsIngestUser", "TracesIngestUser", "-u", "4", "-r", "4", "-t", "6s",
            "--otlp-verify", "true", "--otlp-rate", "400", "--otlp-batch-size", "50",
        )  # fmt: skip
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        verify = summary["verify"]
        assert set(verify) == {"logs", "traces"}
        for signal, figures in verify.items():
            accepted = summary["ingest"]["by_signal"][signal]["accepted_items"]
            assert figures["items"] == figures["visible_items"] == accepted > 0, signal
            assert figures["missing_items"] == 0 and figures["loss_ratio"] == 0
            assert figures["batches"] == accepted // 50 and figures["batches_not_visible"] == 0
            assert figures["p50_ms"] is not None and figures["p99_ms"] >= figures["p50_ms"]
        assert "loss ratio 0.0000%" in result.stdout
    finally:
        assert platform.stop() == 0


def test_total_rate_is_shared_by_the_users(tmp_path, tenants):
    platform = start_platform()
    try:
        result, summary = ingest(
            tmp_path, platform, "LogsIngestUser", "-u", "5", "-r", "5", "-t", "10s",
            "--otlp-total-rate", "3000",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        accepted = summary["ingest"]["by_signal"]["logs"]["accepted_items"]
        # Shared, the five users send 3,000 items/s together, at most 30,000 in 10 s; unshared,
        # each would send 3,000/s, five times that. How close to 30,000 a busy machine gets is a
        # timing, so the floor only says the users sent at all.
        assert 0.2 * 30_000 <= accepted <= 1.05 * 30_000
    finally:
        assert platform.stop() == 0


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("--otlp-batch-size", "0", "otlp-batch-size: must be between 1 and 100000, got '0'"),
        ("--otlp-auth", "cookie", "otlp-auth: 'cookie' is not one of bearer, x-api-key"),
        ("--otlp-backfill", "an hour", "otlp-backfill: 'an hour' is not a duration"),
        ("--otlp-out-of-order", "1.5", "otlp-out-of-order: must be between 0 and 1, got '1.5'"),
    ],
)
def test_a_bad_knob_is_one_line_before_any_load(tmp_path, option, value, problem):
    result = run_locust(
        "-f", "locustfiles/ingest.py", "--headless", "--host", "http://127.0.0.1:9", "-t", "5s",
        "--results-db", str(tmp_path / "r.db"), option, value,
    )  # fmt: skip
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("obstack-load:")]
    assert len(errors) == 1 and problem in errors[0], result.stderr[-2000:]
    assert "Ramping" not in result.stderr + result.stdout


def test_a_bad_knob_in_a_config_file_names_the_file_and_key(tmp_path):
    config = tmp_path / "ingest.conf"
    config.write_text("locustfile = locustfiles/ingest.py\nheadless = true\notlp-encoding = avro\n")
    result = run_locust(
        "--config", str(config), "--host", "http://127.0.0.1:9", "-t", "5s",
        "--results-db", str(tmp_path / "r.db"),
    )  # fmt: skip
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("obstack-load:")]
    assert errors == [
        f"obstack-load: {config} or the command line: otlp-encoding: 'avro' is not one of protobuf, json"
    ], result.stderr[-2000:]


def test_master_and_two_workers_account_exactly_and_share_the_total_rate(tmp_path, tenants):
    from tests.support import run_master_and_workers

    platform = start_platform()
    summary_path = tmp_path / "summary.json"
    try:
        result = run_master_and_workers(
            [
                "-f", "locustfiles/ingest.py", "--headless", "--host", platform.url, "-u", "6", "-r", "6",
                "-t", "10s", "--stop-timeout", "30", "--only-summary", "--otlp-total-rate", "2000",
                "--summary-json", str(summary_path), "--results-db", str(tmp_path / "results.db"),
            ],
            ["-f", "locustfiles/ingest.py"],
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        summary = json.loads(summary_path.read_text())
        assert_platform_agrees(platform, tenants, summary)
        for signal, counts in summary["ingest"]["by_signal"].items():
            # each signal's total rate is split between the workers, not given to each (that
            # would be 40,000); the workers hear the master's stop up to a second or so late.
            # The floor only says they sent: how near 20,000 a busy machine gets is a timing.
            assert 0.2 * 20_000 <= counts["accepted_items"] <= 1.2 * 20_000, signal
    finally:
        assert platform.stop() == 0


@pytest.mark.parametrize(
    ("auth", "accepted"),
    [
        ("scope-orgid", True),  # the key and X-Scope-OrgID naming its tenant
        ("header:X-API-Key", True),  # the key in a header of the user's choosing
        ("scope-orgid-only", False),  # no key at all: the platform refuses (401), never retried
        ("header:X-Not-A-Key-Header", False),  # the key where the platform does not look
    ],
)
def test_every_auth_mode_sends_what_it_says(tmp_path, tenants, auth, accepted):
    platform = start_platform()
    try:
        result, summary = ingest(
            tmp_path, platform, "LogsIngestUser", "-u", "3", "-r", "3", "-t", "3s",
            "--otlp-auth", auth, "--otlp-rate", "200",
        )  # fmt: skip
        counts = summary["ingest"]["by_signal"]["logs"]
        assert counts["sent_requests"] > 0
        if accepted:
            assert result.returncode == 0, result.stderr[-3000:]
            assert counts["accepted_items"] == counts["sent_items"]
            assert_platform_agrees(platform, tenants, summary, signals=("logs",))
        else:
            assert result.returncode == 1  # every request failed, and Locust says so
            assert counts["accepted_items"] == 0
            assert counts["rejected_requests"] == counts["sent_requests"]
            assert counts["retries"] == 0, "a 401 is never retried"
    finally:
        assert platform.stop() == 0


def test_both_transports_and_several_processes_end_to_end(tmp_path, tenants):
    """Locust's own FastHttpSession (--otlp-transport fasthttp) over two processes
    (--processes 2): the accounting still equals what the platform took, per tenant."""
    platform = start_platform()
    try:
        result, summary = ingest(
            tmp_path, platform, "-u", "6", "-r", "6", "-t", "6s", "--otlp-transport", "fasthttp",
            "--processes", "2",
        )  # fmt: skip
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert summary["totals"]["failures"] == 0
        assert_platform_agrees(platform, tenants, summary)
    finally:
        assert platform.stop() == 0

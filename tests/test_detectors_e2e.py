"""Every detector shown catching a real fault, injected on purpose, with the count it gives.

The platform's test-only options (docs/platform.md) inject the faults: batches answered 200 and
never stored (--test-hide-every), live-tail messages sent to another tenant
(--test-live-leak-every), live-tail sockets dropped (--test-live-drop-after), and a per-tenant
ingestion rate limit for throttling and loss."""

from __future__ import annotations

from tests.support import run_headless, start_platform

run = run_headless


def usage(platform, tenants, signal: str) -> dict[str, int]:
    """The platform's own accounting for ``signal``, summed over every tenant."""
    total: dict[str, int] = {}
    for index in range(len(tenants.tenants)):
        mine = platform.get("/api/v1/usage", platform.token_for(tenants, index)).json()["signals"]
        for key, value in mine[signal].items():
            total[key] = total.get(key, 0) + value
    return total


def thresholds(summary: dict) -> dict[str, dict]:
    return {r["expression"]: r for r in summary["thresholds"]["results"]}


def test_ingest_then_verify_counts_exactly_the_items_the_platform_hid(tmp_path, tenants):
    platform = start_platform("--test-hide-every", "4")
    try:
        result, summary = run(
            tmp_path, platform, "LogsIngestUser", "-u", "2", "-r", "2", "-t", "6s",
            "--otlp-rate", "300", "--otlp-verify", "true", "--otlp-verify-timeout", "3s",
            "--threshold", "missing{signal=logs}==0",
        )  # fmt: skip
        hidden = usage(platform, tenants, "logs")["hidden"]
    finally:
        platform.stop()
    verify = summary["verify"]["logs"]
    assert hidden > 0
    assert verify["missing_items"] == hidden, (verify, hidden)
    assert verify["loss_ratio"] > 0
    gate = thresholds(summary)["missing{signal=logs}==0"]
    assert not gate["passed"] and gate["observed"] == hidden
    assert result.returncode == 3, result.stderr[-2000:]


def test_throttling_loss_and_item_thresholds_fail_when_they_should(tmp_path, tenants):
    # 200 items/s per tenant against 4 users asking 1,000 each, with no retries: throttled
    # batches are given up at once, so every throttled batch is also lost
    platform = start_platform("--ingest-rate-limit", "200")
    try:
        result, summary = run(
            tmp_path, platform, "LogsIngestUser", "-u", "4", "-r", "4", "-t", "6s",
            "--otlp-rate", "1000", "--otlp-retries", "0",
            "--threshold", "throttled{signal=logs}==0", "--threshold", "lost{signal=logs}==0",
            "--threshold", "items{signal=logs}>1000000000",
            "--threshold", "items_per_s{signal=logs}>1000000000",
            "--threshold", "rejected{signal=logs}>0",
        )  # fmt: skip
        platform_logs = usage(platform, tenants, "logs")
    finally:
        platform.stop()
    counts = summary["ingest"]["by_signal"]["logs"]
    gates = thresholds(summary)
    assert counts["throttled_requests"] > 0 and counts["lost_items"] > 0
    assert gates["throttled{signal=logs}==0"]["observed"] == counts["throttled_requests"]
    assert counts["throttled_requests"] == platform_logs["throttled_requests"]
    assert gates["lost{signal=logs}==0"]["observed"] == counts["lost_items"]
    assert gates["items{signal=logs}>1000000000"]["observed"] == counts["accepted_items"]
    assert counts["accepted_items"] == platform_logs["accepted"]
    assert gates["items_per_s{signal=logs}>1000000000"]["observed"] > 0
    assert gates["rejected{signal=logs}>0"]["observed"] == 0
    assert not any(g["passed"] for g in gates.values()), gates
    assert result.returncode == 3, result.stderr[-2000:]


def two_tenants(tmp_path) -> str:
    path = tmp_path / "tenants.yaml"
    path.write_text("seed: 5\ntenants: {count: 2}\n")
    return str(path)


def test_a_live_tail_message_of_another_tenant_is_a_cross_tenant_leak(tmp_path):
    tenants_file = two_tenants(tmp_path)
    platform = start_platform("--tenants-file", tenants_file, "--test-live-leak-every", "3")
    try:
        result, summary = run(
            tmp_path, platform, "--tenants-file", tenants_file, "-u", "16", "-r", "16",
            "-t", "8s", "--threshold", "count{error=CrossTenantLeak}==0",
            locustfile="locustfiles/live.py,locustfiles/smoke.py",
        )  # fmt: skip
    finally:
        platform.stop()
    leaks = sum(e["occurrences"] for e in summary["errors"] if "CrossTenantLeak" in e["error"])
    assert leaks > 0, summary["errors"]
    gate = thresholds(summary)["count{error=CrossTenantLeak}==0"]
    assert not gate["passed"] and gate["observed"] == leaks
    assert result.returncode == 3


def test_a_dropped_live_tail_socket_is_reconnected(tmp_path):
    tenants_file = tmp_path / "tenants.yaml"
    tenants_file.write_text("seed: 5\ntenants: {count: 1}\n")
    platform = start_platform("--tenants-file", str(tenants_file), "--test-live-drop-after", "3")
    try:
        result, summary = run(
            tmp_path, platform, "--tenants-file", str(tenants_file), "-u", "8", "-r", "8",
            "-t", "10s", locustfile="locustfiles/live.py,locustfiles/smoke.py",
        )  # fmt: skip
    finally:
        platform.stop()
    ws = {r["name"]: r for r in summary["requests"] if r["method"] == "WS"}
    users = 4  # half of the 8: LiveTailUser and SmokeUser have equal weights
    assert ws["connection dropped"]["requests"] > 0, ws
    assert ws["connect"]["requests"] > users, "every drop is followed by a reconnect"
    assert ws["connect"]["failures"] == 0
    assert ws["message"]["requests"] >= 3 * users


def test_a_cpu_saturated_generator_is_flagged_generator_bound(platform, tmp_path):
    # the flag's CPU mark is lowered, so that a machine whose other cores are busy too still
    # gives the spinning generator enough of one core to cross it
    result, summary = run(
        tmp_path, platform, "-u", "2", "-r", "2", "-t", "10s", "--generator-bound-cpu", "30",
        locustfile="tests/locustfiles/busy.py",
    )  # fmt: skip
    assert summary["results"]["generator_bound"] is True, summary["results"]
    assert "generator-bound" in result.stdout

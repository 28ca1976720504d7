"""API sessions against the reference platform: 200 users, short-lived tokens, no leaks; and a
platform that leaks on purpose is caught."""

from __future__ import annotations

import json

import yaml

from obstack_load.results.store import open_store
from obstack_load.users.api_mix import DEFAULT_MIX_FILE
from tests.support import run_locust, start_platform


def fast_mix(tmp_path) -> str:
    """The default mix with shorter think times, so a short test covers every behaviour."""
    mix = yaml.safe_load(DEFAULT_MIX_FILE.read_text())
    mix["think_time"] = {"min": 0.5, "max": 1.5}
    mix["roles"] = {"viewer": 5, "editor": 3, "admin": 2}
    path = tmp_path / "mix.yaml"
    path.write_text(yaml.safe_dump(mix))
    return str(path)


def api_run(platform, tmp_path, users: int, run_time: str, *extra: str):
    summary = tmp_path / "summary.json"
    db = tmp_path / "results.db"
    result = run_locust(
        "-f", "locustfiles/api.py", "--headless", "--only-summary", "--host", platform.url,
        "-u", str(users), "-r", "50", "-t", run_time, "--api-mix", fast_mix(tmp_path),
        "--summary-json", str(summary), "--results-db", str(db), *extra,
    )  # fmt: skip
    return result, json.loads(summary.read_text()), str(db)


def test_200_users_with_short_tokens_no_failures_no_leaks(tmp_path):
    platform = start_platform("--token-ttl", "4")
    try:
        result, summary, db = api_run(
            platform,
            tmp_path,
            200,
            "25s",
            "--threshold",
            "count{error=CrossTenantLeak}==0",
            "--threshold",
            "rate==0",
        )
    finally:
        platform.stop()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert summary["totals"]["failures"] == 0 and summary["errors"] == []
    names = {(r["method"], r["name"]) for r in summary["requests"]}
    assert len(names) <= 40, names
    by_name = {r["name"]: r["requests"] for r in summary["requests"]}
    assert by_name.get("/api/v1/auth/refresh", 0) > 0, "tokens were refreshed under a 4 s lifetime"
    for expected in (
        "/api/v1/dashboards/[id]/panels/[panel]/query",
        "/api/v1/logs/search",
        "/api/v1/traces/search",
        "/api/v1/alerts",
    ):
        assert by_name.get(expected, 0) > 0, expected
    # each user logs in once; one stopped while its refresh was in flight logs in again to log
    # out (the platform may have used that refresh token up: tests/users/test_session_e2e.py)
    assert 200 <= by_name["/api/v1/auth/login"] <= 2 * 200
    store = open_store(db)
    try:
        peak = store.fetch("SELECT MAX(user_count) AS n FROM user_counts")[0]["n"]
    finally:
        store.close()
    assert peak == 200


def test_a_leaking_platform_is_caught(tmp_path):
    platform = start_platform("--test-leak-every", "3")
    try:
        result, summary, _ = api_run(
            platform, tmp_path, 20, "10s", "--threshold", "count{error=CrossTenantLeak}==0"
        )
    finally:
        platform.stop()
    assert result.returncode == 3, result.stderr[-2000:]
    leaks = [e for e in summary["errors"] if "CrossTenantLeak" in e["error"]]
    assert leaks and all(e["name"] == "/api/v1/dashboards" for e in leaks)
    verdicts = {r["expression"]: r for r in summary["thresholds"]["results"]}
    assert verdicts["count{error=CrossTenantLeak}==0"]["passed"] is False
    assert verdicts["count{error=CrossTenantLeak}==0"]["observed"] >= 1


def test_api_sessions_over_locusts_own_client_end_to_end(tmp_path):
    """--api-transport fasthttp: the same sessions through Locust's FastHttpSession."""
    platform = start_platform()
    try:
        result, summary, _ = api_run(
            platform, tmp_path, 10, "8s", "--api-transport", "fasthttp",
            "--threshold", "count{error=CrossTenantLeak}==0", "--threshold", "rate==0",
        )  # fmt: skip
    finally:
        platform.stop()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    by_name = {r["name"]: r["requests"] for r in summary["requests"]}
    assert by_name.get("/api/v1/auth/login", 0) > 0
    assert sum(by_name.values()) > by_name["/api/v1/auth/login"], "calls went through after login"
    assert summary["totals"]["failures"] == 0

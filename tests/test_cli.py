"""The obstack-load command: every subcommand has --help, and tenants prints the population."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from obstack_load.cli import build_parser


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


@pytest.mark.parametrize("command", subcommands())
def test_every_subcommand_has_help(command):
    result = run(command, "--help")
    assert result.returncode == 0
    assert "usage: obstack-load" in result.stdout


def test_tenants_table_hides_and_json_shows_credentials(tenants):
    table = run("tenants")
    assert table.returncode == 0
    assert not any(secret in table.stdout for secret in tenants.secrets())
    data = json.loads(run("tenants", "--json").stdout)
    assert data["tenants"][0]["api_key"] == tenants.tenants[0].api_key
    assert data["tenants"][0]["users"][0]["password"] == tenants.tenants[0].accounts[0].password


def test_bad_tenants_file_is_one_line(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("tenants: {count: -1}")
    result = run("platform", "--tenants-file", str(bad), "--port", "0")
    assert result.returncode == 2
    assert result.stderr.strip() == f"obstack-load: {bad}: tenants.count: must be >= 1, got -1"


def test_db_migrate_then_runs_list_and_show_read_a_real_run(tmp_path, platform):
    from tests.support import run_locust

    db = str(tmp_path / "results.db")
    migrated = run("db", "migrate", "--results-db", db)
    assert migrated.returncode == 0 and "schema at version" in migrated.stdout
    result = run_locust(
        "-f", "locustfiles/probe.py", "--headless", "-u", "2", "-r", "2", "-t", "3s",
        "--host", platform.url, "--results-db", db, "--run-label", "cli-check",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    listed = run("runs", "list", "--results-db", db)
    assert listed.returncode == 0 and "cli-check" in listed.stdout and "finished" in listed.stdout
    runs = json.loads(run("runs", "list", "--results-db", db, "--json").stdout)
    shown = run("runs", "show", runs[0]["run_id"][:8], "--results-db", db)
    assert shown.returncode == 0, shown.stderr
    assert "GET" in shown.stdout and "/healthz" in shown.stdout
    report = json.loads(run("runs", "show", "latest", "--results-db", db, "--json").stdout)
    assert report["totals"]["requests"] == runs[0]["total_requests"] > 0


def test_profiles_check_passes_every_bundled_profile_and_fails_a_bad_one(tmp_path):
    import glob

    from tests.support import REPO

    good = subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", "profiles", "check"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.count("ok   ") == len(glob.glob(str(REPO / "config" / "*.conf")))
    bad = tmp_path / "bad.conf"
    bad.write_text("locustfile = locustfiles/smoke.py\nheadless = true\n")
    failed = subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", "profiles", "check", str(bad)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert failed.returncode == 1 and failed.stdout.startswith("FAIL ")


def test_the_dashboard_on_a_taken_port_or_a_missing_database_is_one_line(tmp_path):
    import socket

    missing = run("dashboard", "--results-db", str(tmp_path / "nothing.db"))
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "no results database there" in missing.stderr
    db = str(tmp_path / "results.db")
    assert run("db", "migrate", "--results-db", db).returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        busy = run("dashboard", "--port", port, "--results-db", db)
    assert busy.returncode == 2
    assert (
        busy.stderr.strip()
        == f"obstack-load: --port: cannot listen on 127.0.0.1:{port}: Address already in use"
    )

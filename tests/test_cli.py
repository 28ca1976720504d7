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
    result = run("platform", "--tenants", str(bad), "--port", "0")
    assert result.returncode == 2
    assert result.stderr.strip() == f"obstack-load: {bad}: tenants.count: must be >= 1, got -1"

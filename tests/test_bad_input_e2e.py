"""Every bad input gets one line and exit code 2 before any load, from a real Locust (or
obstack-load) process; read-only commands never create a database."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import REPO, one_error, run_locust


def locust(tmp_path, *args: str, locustfile: str = "locustfiles/smoke.py"):
    return run_locust(
        "-f", locustfile, "--headless", "-u", "2", "-r", "2", "--run-time", "5s",
        "--host", "http://127.0.0.1:9", "--results-db", str(tmp_path / "results.db"),
        *args, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--results-db", "mysql://x"], "obstack-load: --results-db: mysql:// is not supported"),
        (["--results-interval", "0"], "obstack-load: --results-interval: must be > 0, got 0.0"),
        (["--results-buffer-rows", "-1"], "obstack-load: --results-buffer-rows: must be >= 0"),
        (["-u", "-5"], "obstack-load: --users: must be >= 0, got -5"),
        (["--host", "127.0.0.1:8080"], "obstack-load: --host: '127.0.0.1:8080' is not an http://"),
        (["--summary-json", "/proc/obstack/summary.json"], "obstack-load: --summary-json: cannot"),
        (["--run-tag", "novalue"], "obstack-load: --run-tag: 'novalue' is not k=v"),
        (["--threshold", "p(95)<<1"], "obstack-load: --threshold:"),
    ],
)
def test_bad_option_is_one_line_before_any_load(tmp_path, args, expected):
    line = one_error(locust(tmp_path, *args))
    assert line.startswith(expected), line
    assert not (tmp_path / "mysql:").exists()


def test_missing_api_mix_file_is_one_line_before_any_load(tmp_path):
    missing = tmp_path / "no-such-mix.yaml"
    result = locust(tmp_path, "--api-mix", str(missing), locustfile="locustfiles/api.py")
    assert (
        one_error(result)
        == f"obstack-load: {missing}: cannot read file (No such file or directory)"
    )


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", *args],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip


@pytest.mark.parametrize("command", [["runs", "list"], ["runs", "show", "latest"]])
def test_reading_a_mistyped_database_creates_nothing(tmp_path, command):
    typo = tmp_path / "reslts.db"
    result = cli(*command, "--results-db", str(typo))
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"obstack-load: {typo}: no results database there (no such file)"
    )
    assert not typo.exists()


def test_runs_show_into_a_closed_pipe_prints_no_traceback(tmp_path):
    db = tmp_path / "results.db"
    assert cli("db", "migrate", "--results-db", str(db)).returncode == 0
    result = locust(tmp_path, "--run-time", "2s", "--results-db", str(db))
    assert result.returncode in (0, 1, 3), result.stderr[-2000:]  # the target is unreachable
    for reader in ("head -n 1", "true"):  # `true` leaves before anything is written
        pipeline = subprocess.run(
            f"{sys.executable} -m obstack_load.cli runs show latest --results-db {db} | {reader}",
            shell=True, capture_output=True, text=True, timeout=120, cwd=REPO,
        )  # fmt: skip
        assert "Traceback" not in pipeline.stderr and "BrokenPipe" not in pipeline.stderr
    assert pipeline.returncode == 0

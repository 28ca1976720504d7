"""JUnit XML from real pytest runs, imported into SQLite and PostgreSQL and read back; and, in CI,
the project's own test results (``.ci/run`` imports them and runs the last test here)."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from obstack_load.results.store import open_store
from tests.support import REPO

SAMPLE = """
import pytest
def test_passes():
    pass
def test_fails():
    assert False, "postgresql://load:hunter2-pw@db/results token=abc123secret"
@pytest.mark.skip(reason="not today")
def test_skipped():
    pass
@pytest.fixture
def broken():
    raise RuntimeError("setup broke")
def test_errors(broken):
    pass
"""


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", *args], cwd=REPO, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip


def pytest_junit(tmp_path: Path, name: str, select: str = "") -> Path:
    module = tmp_path / "test_sample.py"
    module.write_text(SAMPLE)
    out = tmp_path / name
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(module),
         f"--junitxml={out}", "--rootdir", str(tmp_path), *(["-k", select] if select else [])],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return out


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "results.db")
    return request.getfixturevalue("postgres").database(f"junit_{os.getpid()}_{id(tmp_path)}")


def test_a_pytest_run_is_stored_with_its_outcomes_and_read_back(db, tmp_path):
    junit = pytest_junit(tmp_path, "junit.xml")
    done = cli("results", "import-junit", str(junit), "--suite", "unit", "--run-label", "nightly",
               "--git-revision", "abc123", "--results-db", db)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "4 tests (1 passed, 1 failed, 1 error, 1 skipped)" in done.stdout
    again = cli("results", "import-junit", str(junit), "--suite", "unit", "--results-db", db)
    assert "already imported; nothing added" in again.stdout  # the same file is stored once
    store = open_store(db)
    try:
        suites = store.fetch("SELECT * FROM test_suite_runs")
        cases = store.fetch("SELECT * FROM test_cases ORDER BY name")
    finally:
        store.close()
    assert len(suites) == 1
    suite = suites[0]
    expected = {"suite": "unit", "label": "nightly", "git_revision": "abc123", "tests": 4,
                "passed": 1, "failed": 1, "errors": 1, "skipped": 1, "source": "junit.xml"}  # fmt: skip
    assert {k: suite[k] for k in expected} == expected
    root = ElementTree.parse(junit).getroot()
    assert suite["duration_s"] == pytest.approx(float(root.find("testsuite").get("time")), abs=1e-3)
    assert [(c["name"], c["outcome"]) for c in cases] == [
        ("test_errors", "error"), ("test_fails", "failed"), ("test_passes", "passed"),
        ("test_skipped", "skipped"),
    ]  # fmt: skip
    failed = next(c for c in cases if c["name"] == "test_fails")
    assert "hunter2-pw" not in failed["message"] and "abc123secret" not in failed["message"]
    assert "postgresql://load:***@db/results" in failed["message"]


def test_shards_make_one_suite_run_and_bad_files_are_one_line(tmp_path):
    db = str(tmp_path / "results.db")
    first = pytest_junit(tmp_path, "junit-1.xml", "passes or fails")
    second = pytest_junit(tmp_path, "junit-2.xml", "skipped or errors")
    done = cli(
        "results", "import-junit", str(first), str(second), "--suite", "e2e", "--results-db", db
    )
    assert done.returncode == 0 and "4 tests" in done.stdout, done.stdout + done.stderr
    not_xml = tmp_path / "notes.txt"
    not_xml.write_text("hello")
    bad = cli("results", "import-junit", str(not_xml), "--suite", "e2e", "--results-db", db)
    assert bad.returncode == 2
    assert bad.stderr.startswith(f"obstack-load: {not_xml}: not JUnit XML:")
    assert len(bad.stderr.strip().splitlines()) == 1
    missing = cli(
        "results", "import-junit", str(tmp_path / "gone.xml"), "--suite", "e2e", "--results-db", db
    )
    assert missing.returncode == 2 and "cannot read" in missing.stderr


CI_DB = os.environ.get("OBSTACK_CI_JUNIT_DB")


@pytest.mark.skipif(not CI_DB, reason="CI only: .ci/run imports the suite's own JUnit results")
def test_ci_imported_the_suites_own_results():
    files = sorted((REPO / "results").glob("junit-*.xml"))
    cases = [c for f in files for c in ElementTree.parse(f).getroot().iter("testcase")]
    store = open_store(CI_DB)
    try:
        suite = store.fetch(
            "SELECT * FROM test_suite_runs WHERE suite = 'obstack-load' "
            "ORDER BY imported_at DESC LIMIT 1"
        )[0]
        stored = store.fetch(
            "SELECT COUNT(*) AS n FROM test_cases WHERE suite_run_id = ?", (suite["suite_run_id"],)
        )[0]["n"]
    finally:
        store.close()
    assert suite["tests"] == stored == len(cases) > 300
    assert suite["failed"] == suite["errors"] == 0  # .ci/run imports only a green suite

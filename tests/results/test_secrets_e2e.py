"""A results database password, in each form psycopg accepts it, appears nowhere: not in the
output, the logs, the results database, Locust's HTML report or the summary JSON; nor in the
one-line error when the database cannot be reached."""

from __future__ import annotations

import json

import pytest

from obstack_load.results.store import open_store
from tests.support import free_port, run_locust


def forms(port: int, password: str) -> dict[str, tuple[str, dict[str, str]]]:
    """Form name -> (DSN, environment), each carrying ``password`` its own way."""
    return {
        "url userinfo": (f"postgresql://obstack:{password}@127.0.0.1:{port}/obstack", {}),
        "query parameter": (
            f"postgresql://127.0.0.1:{port}/obstack?user=obstack&password={password}",
            {},
        ),
        "key=value": (
            f"host=127.0.0.1 port={port} dbname=obstack user=obstack password={password}",
            {},
        ),
        "PGPASSWORD": (
            f"postgresql://obstack@127.0.0.1:{port}/obstack",
            {"PGPASSWORD": password},
        ),
    }


FORMS = ["url userinfo", "query parameter", "key=value", "PGPASSWORD"]


@pytest.mark.parametrize("form", FORMS)
def test_password_appears_nowhere(platform, postgres, tmp_path, form):
    from tests.postgres import PASSWORD

    dsn, env = forms(postgres.port, PASSWORD)[form]
    html, summary = tmp_path / "report.html", tmp_path / "summary.json"
    result = run_locust(
        "-f", "locustfiles/probe.py", "--headless", "-u", "2", "-r", "2", "--run-time", "3s",
        "--host", platform.url, "--results-db", dsn, "--html", str(html),
        "--summary-json", str(summary), "--loglevel", "DEBUG", "--run-label", form,
        env=env,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr[-3000:]
    run_id = json.loads(summary.read_text())["results"]["run_id"]
    files = html.read_text() + summary.read_text()
    assert PASSWORD not in result.stdout + result.stderr + files
    store = open_store(postgres.dsn)
    try:
        rows = store.fetch("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        dump = json.dumps(rows, default=str)
        for table in ("request_intervals", "errors", "threshold_results", "system_metrics"):
            dump += json.dumps(
                store.fetch(f"SELECT * FROM {table} WHERE run_id = ?", (run_id,)), default=str
            )
    finally:
        store.close()
    assert rows and PASSWORD not in dump
    if form != "PGPASSWORD":
        options = rows[0]["options"]  # JSONB: psycopg gives a dict
        assert (
            "***" in (options if isinstance(options, dict) else json.loads(options))["results_db"]
        )


@pytest.mark.parametrize("form", FORMS)
def test_password_appears_nowhere_when_the_database_cannot_be_reached(tmp_path, form):
    secret = "Top-Secret-9"
    dsn, env = forms(free_port(), secret)[form]
    result = run_locust(
        "-f", "locustfiles/probe.py", "--headless", "-u", "1", "--run-time", "3s",
        "--host", "http://127.0.0.1:9", "--results-db", dsn, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("obstack-load:")]
    assert len(lines) == 1 and "cannot connect" in lines[0], result.stderr[-2000:]
    assert secret not in result.stdout + result.stderr

"""Every Grafana panel's SQL, and every dashboard variable's, runs against the real results
schema in a real PostgreSQL and returns rows for a stored run."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import psycopg
import pytest
import yaml

from tests.support import CORRECTNESS_ONLY, REPO, run_locust, start_platform

GRAFANA = REPO / "deploy" / "grafana"
BOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))


def panel_queries() -> list[tuple[str, str, str]]:
    found = []
    for path in BOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel["targets"]:
                found.append((path.name, panel["title"], target["rawSql"]))
        for variable in board["templating"]["list"]:
            found.append((path.name, f"variable {variable['name']}", variable["query"]))
    return found


@pytest.fixture(scope="module")
def stored(postgres, tmp_path_factory):
    """A database holding one real smoke run (with thresholds) and one imported JUnit suite."""
    dsn = postgres.database("grafana")
    platform = start_platform()
    try:
        done = run_locust(
            "--config", "config/smoke.conf", "--host", platform.url, "--run-time", "5s",
            "--users", "3", "--spawn-rate", "3", "--html", "", "--csv", "", "--results-db", dsn,
            "--run-label", "grafana", *CORRECTNESS_ONLY,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
    finally:
        platform.stop()
    junit = tmp_path_factory.mktemp("junit") / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite name="s" time="1.5" timestamp="2026-11-30T10:00:00+00:00">'
        '<testcase classname="a" name="ok" time="1"/><testcase classname="a" name="bad" time="0.5">'
        '<failure message="no"/></testcase></testsuite></testsuites>'
    )
    imported = subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", "results", "import-junit", str(junit),
         "--suite", "e2e", "--results-db", dsn], cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    with psycopg.connect(dsn) as conn:
        run_id = conn.execute("SELECT run_id FROM runs").fetchone()[0]
    return dsn, run_id


def grafana_sql(sql: str, run_id: str) -> str:
    """The SQL as Grafana sends it: macros expanded over all time, variables filled in."""
    sql = re.sub(r"\$__unixEpochFilter\((\w+(?:\.\w+)?)\)", r"\1 BETWEEN 0 AND 4102444800", sql)
    assert "$__" not in sql, f"a macro this test does not expand: {sql}"
    return sql.replace("$run_id", run_id).replace("$label", "__all__")


def test_every_dashboard_is_provisioned_with_its_queries():
    assert [p.name for p in BOARDS] == ["live-run.json", "run-history.json", "thresholds.json"]
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "obstack.yaml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards/obstack-load"
    source = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "obstack-results.yaml").read_text()
    )["datasources"][0]
    assert source["uid"] == "obstack-results" and source["secureJsonData"]["password"] == (
        "${RESULTS_DB_PASSWORD}"
    )  # from the environment, never written down
    for path in BOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            assert panel["datasource"]["uid"] == "obstack-results" and panel["targets"], panel


@pytest.mark.parametrize(("board", "title", "sql"), panel_queries())
def test_every_panel_query_returns_rows_for_a_stored_run(stored, board, title, sql):
    dsn, run_id = stored
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(grafana_sql(sql, run_id)).fetchall()
    assert rows, f"{board}: {title}: no rows"

"""Writes the three Grafana dashboards in dashboards/ from the panel SQL below (run it after a
change: ``python deploy/grafana/build_dashboards.py``). Every query reads the results schema
(docs/results-schema.md); ``tests/deploy/test_grafana.py`` runs each against a stored run in
a real PostgreSQL.

Times are unix seconds in the schema, which Grafana takes as a time column as they are;
``$__unixEpochFilter`` limits a query to the dashboard's time range.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = {"type": "grafana-postgresql-datasource", "uid": "obstack-results"}

RUN_VARIABLE = {
    "name": "run_id",
    "label": "run",
    "type": "query",
    "datasource": SOURCE,
    "query": "SELECT run_id AS __value, COALESCE(label, '-') || ' ' || run_id AS __text "
    "FROM runs ORDER BY started_at DESC LIMIT 50",
    "refresh": 2,
}
LABEL_VARIABLE = {
    "name": "label",
    "type": "query",
    "datasource": SOURCE,
    "query": "SELECT DISTINCT COALESCE(label, '') FROM runs ORDER BY 1",
    "refresh": 2,
    "includeAll": True,
    "allValue": "__all__",
}

LIVE = [
    ("p95 per endpoint (ms)", "timeseries", "time_series",
     "SELECT ts AS time, method || ' ' || name AS metric, MAX(p95_ms) AS p95_ms "
     "FROM request_intervals WHERE run_id = '$run_id' AND $__unixEpochFilter(ts) "
     "GROUP BY ts, method, name ORDER BY ts"),
    ("Requests/s", "timeseries", "time_series",
     "SELECT ts AS time, SUM(count) / MAX(interval_s) AS requests_per_s "
     "FROM request_intervals WHERE run_id = '$run_id' AND $__unixEpochFilter(ts) "
     "GROUP BY ts ORDER BY ts"),
    ("Failures/s", "timeseries", "time_series",
     "SELECT ts AS time, SUM(failures) / MAX(interval_s) AS failures_per_s "
     "FROM request_intervals WHERE run_id = '$run_id' AND $__unixEpochFilter(ts) "
     "GROUP BY ts ORDER BY ts"),
    ("Users", "timeseries", "time_series",
     "SELECT ts AS time, user_count AS users FROM user_counts "
     "WHERE run_id = '$run_id' AND $__unixEpochFilter(ts) ORDER BY ts"),
    ("OTLP items accepted/s per signal", "timeseries", "time_series",
     "SELECT ts AS time, split_part(name, '/', 3) AS metric, SUM(items) / MAX(interval_s) AS items_per_s "
     "FROM request_intervals WHERE run_id = '$run_id' AND name LIKE '/v1/%' "
     "AND $__unixEpochFilter(ts) GROUP BY ts, split_part(name, '/', 3) ORDER BY ts"),
    ("Generator CPU per process (%)", "timeseries", "time_series",
     "SELECT ts AS time, role || ' ' || node AS metric, cpu_percent FROM system_metrics "
     "WHERE run_id = '$run_id' AND $__unixEpochFilter(ts) ORDER BY ts"),
]  # fmt: skip
HISTORY = [
    ("Runs", "table", "table",
     "SELECT to_timestamp(started_at) AS started, label, profile, status, exit_code, "
     "thresholds_verdict, total_requests, total_failures, "
     "round((ended_at - started_at)::numeric, 0) AS seconds, generator_bound, git_revision, run_id "
     "FROM runs WHERE ('$label' = '__all__' OR COALESCE(label, '') = '$label') "
     "AND $__unixEpochFilter(started_at) ORDER BY started_at DESC"),
    ("Failure ratio per run", "timeseries", "time_series",
     "SELECT started_at AS time, COALESCE(label, '-') AS metric, "
     "total_failures::float / NULLIF(total_requests, 0) AS failure_ratio FROM runs "
     "WHERE ('$label' = '__all__' OR COALESCE(label, '') = '$label') "
     "AND $__unixEpochFilter(started_at) ORDER BY started_at"),
    ("Mean response time per run (ms)", "timeseries", "time_series",
     "SELECT r.started_at AS time, COALESCE(r.label, '-') AS metric, "
     "SUM(i.total_ms) / NULLIF(SUM(i.count), 0) AS mean_ms "
     "FROM runs r JOIN request_intervals i ON i.run_id = r.run_id "
     "WHERE ('$label' = '__all__' OR COALESCE(r.label, '') = '$label') "
     "AND $__unixEpochFilter(r.started_at) GROUP BY r.run_id, r.started_at, r.label "
     "ORDER BY r.started_at"),
    ("Pass rate of imported test suites (%)", "timeseries", "time_series",
     "SELECT started_at AS time, suite AS metric, "
     "100.0 * passed / NULLIF(tests - skipped, 0) AS pass_rate FROM test_suite_runs "
     "WHERE $__unixEpochFilter(started_at) ORDER BY started_at"),
]  # fmt: skip
THRESHOLDS = [
    ("Threshold results", "table", "table",
     "SELECT to_timestamp(r.started_at) AS started, r.label, t.expression, t.scope, t.observed, "
     "COALESCE(t.level, CASE WHEN t.passed THEN 'pass' ELSE 'fail' END) AS level, t.detail, r.run_id "
     "FROM threshold_results t JOIN runs r ON r.run_id = t.run_id "
     "WHERE $__unixEpochFilter(r.started_at) ORDER BY r.started_at DESC, t.expression"),
    ("Verdicts per day", "barchart", "table",
     "SELECT to_char(to_timestamp(started_at), 'YYYY-MM-DD') AS day, "
     "SUM(CASE WHEN thresholds_verdict = 'passed' THEN 1 ELSE 0 END) AS passed, "
     "SUM(CASE WHEN thresholds_verdict = 'warning' THEN 1 ELSE 0 END) AS warning, "
     "SUM(CASE WHEN thresholds_verdict IN ('failed', 'aborted') THEN 1 ELSE 0 END) AS failed "
     "FROM runs WHERE $__unixEpochFilter(started_at) GROUP BY 1 ORDER BY 1"),
    ("Observed value per run, per threshold", "timeseries", "time_series",
     "SELECT r.started_at AS time, t.expression || ' ' || t.scope AS metric, t.observed "
     "FROM threshold_results t JOIN runs r ON r.run_id = t.run_id "
     "WHERE $__unixEpochFilter(r.started_at) ORDER BY r.started_at"),
]  # fmt: skip


def dashboard(
    uid: str, title: str, panels: list, variables: list, refresh: str, since: str
) -> dict:
    return {
        "uid": uid,
        "title": title,
        "tags": ["obstack-load"],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": refresh,
        "time": {"from": since, "to": "now"},
        "templating": {"list": variables},
        "panels": [
            {
                "id": index + 1,
                "title": title_,
                "type": kind,
                "datasource": SOURCE,
                "gridPos": {
                    "h": 8,
                    "w": 24 if kind == "table" else 12,
                    "x": 0 if kind == "table" else 12 * (index % 2),
                    "y": 8 * index,
                },
                "targets": [
                    {
                        "refId": "A",
                        "datasource": SOURCE,
                        "format": fmt,
                        "rawQuery": True,
                        "editorMode": "code",
                        "rawSql": sql,
                    }
                ],
            }  # fmt: skip
            for index, (title_, kind, fmt, sql) in enumerate(panels)
        ],
    }


BOARDS = {
    "live-run.json": dashboard("obstack-live", "obstack-load: live run", LIVE, [RUN_VARIABLE], "5s", "now-1h"),
    "run-history.json": dashboard("obstack-history", "obstack-load: run history", HISTORY, [LABEL_VARIABLE], "", "now-30d"),
    "thresholds.json": dashboard("obstack-thresholds", "obstack-load: thresholds", THRESHOLDS, [], "", "now-30d"),
}  # fmt: skip

if __name__ == "__main__":
    for name, board in BOARDS.items():
        (HERE / "dashboards" / name).write_text(json.dumps(board, indent=2) + "\n")

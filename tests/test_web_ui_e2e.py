"""The web UI: every start in one session is its own run and keeps its own totals; every suite
field in the start form works or is refused with the command line's one-line message, before any
user starts; Chromium shows the refusal (a screenshot is kept in results/test-artifacts/)."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support import REPO, free_port, start_locust, wait_for

ARTIFACTS = REPO / "results" / "test-artifacts"
# A bad value for each suite field that validates its value, and what the refusal names.
BAD = {
    "otlp_encoding": ("xml", "otlp-encoding: 'xml' is not one of protobuf, json"),
    "otlp_batch_size": ("-5", "otlp-batch-size: must be between 1 and 100000, got '-5'"),
    "otlp_auth": ("magic", "otlp-auth: 'magic' is not one of"),
    "otlp_backfill": ("soon", "otlp-backfill: 'soon' is not a duration"),
    "threshold": ("p(95)<<200", "--threshold:"),
    "thresholds_file": ("no/such/file.yaml", "no/such/file.yaml: cannot read file"),
    "run_tag": ("novalue", "--run-tag: 'novalue' is not k=v"),
    "results_interval": ("0", "--results-interval: must be > 0"),
    "results_buffer_rows": ("-1", "--results-buffer-rows: must be >= 0"),
    "results_wait": ("-1", "--results-wait: must be >= 0"),
    "tenants_file": ("no/such/tenants.yaml", "no/such/tenants.yaml: cannot read file"),
    "api_mix": ("no/such/mix.yaml", "no/such/mix.yaml: cannot read file"),
    "seed": ("many", "--seed: 'many' is not an integer"),
    "load_shape": ("stages", "--stages: "),
    "summary_json": ("/proc/obstack/s.json", "--summary-json: cannot"),
    "chaos_experiment": ("no/such/experiment.yaml", "no/such/experiment.yaml: cannot read"),
}


class WebUi:
    def __init__(self, url: str, target: str) -> None:
        self.url, self.target = url, target

    def swarm(self, users: int = 2, **fields: str) -> dict:
        form = {"user_count": users, "spawn_rate": users, "host": self.target, **fields}
        return requests.post(f"{self.url}/swarm", data=form, timeout=60).json()

    def stats(self) -> dict:
        return requests.get(f"{self.url}/stats/requests", timeout=30).json()

    def total(self) -> int:
        return next(s["num_requests"] for s in self.stats()["stats"] if s["name"] == "Aggregated")

    def stop(self) -> int:
        requests.post(f"{self.url}/stop", timeout=60)
        wait_for(lambda: self.stats()["state"] == "stopped", timeout=120, interval=0.2)
        return self.total()

    def fields(self) -> dict:
        page = requests.get(self.url, timeout=30).text
        args = json.loads(re.search(r"window\.templateArgs = (\{.*\})", page).group(1))
        return args["extra_options"]


@pytest.fixture
def web_ui(platform, tmp_path):
    port = free_port()
    process = start_locust(
        "-f", "locustfiles/mixed.py", "--host", platform.url, "--web-host", "127.0.0.1",
        "--web-port", str(port), "--results-db", str(tmp_path / "results.db"),
    )  # fmt: skip
    ui = WebUi(f"http://127.0.0.1:{port}", platform.url)
    wait_for(lambda: _answers(ui.url), timeout=120, interval=0.2)
    yield ui, process, tmp_path / "results.db"
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=300)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def runs(db: Path) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        found = [dict(r) for r in conn.execute("SELECT * FROM runs ORDER BY started_at")]
        for run in found:
            (run["intervals"],) = conn.execute(
                "SELECT COALESCE(SUM(count), 0) FROM request_intervals WHERE run_id = ?",
                (run["run_id"],),
            ).fetchone()
            run["thresholds"] = [
                r[0]
                for r in conn.execute(
                    "SELECT expression FROM threshold_results WHERE run_id = ?", (run["run_id"],)
                )
            ]
    return found


def test_two_starts_in_one_session_are_two_runs_with_their_own_totals(web_ui, tmp_path):
    ui, process, db = web_ui
    thresholds = tmp_path / "gate.yaml"
    thresholds.write_text("thresholds:\n  - rate<0.99\n")
    totals = []
    for label, fields in (
        ("first", {"run_tag": "team=sre"}),
        ("second", {"threshold": "count<1000000000", "thresholds_file": str(thresholds)}),
    ):
        answer = ui.swarm(run_label=label, otlp_users_per_signal="0", **fields)
        assert answer["success"], answer
        # the start is asynchronous: Locust resets its stats, then leaves the stopped state
        wait_for(lambda: ui.stats()["state"] != "stopped", timeout=120, interval=0.1)
        wait_for(lambda: ui.total() > 100, timeout=120, interval=0.2)
        totals.append(ui.stop())
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=300)
    first, second = runs(db)
    assert (first["label"], second["label"]) == ("first", "second"), err[-3000:]
    assert first["total_requests"] == first["intervals"] == totals[0], "the first run is kept"
    assert second["total_requests"] == second["intervals"] == totals[1]
    assert json.loads(first["tags"]) == {"team": "sre"}
    assert sorted(second["thresholds"]) == ["count<1000000000", "rate<0.99"]
    assert first["status"] == second["status"] == "finished"  # stopped, then the process quit


def test_each_suite_field_works_or_is_refused_with_its_message(web_ui):
    ui, process, db = web_ui
    fields = ui.fields()
    assert "results_db" not in fields, "not offered: one database per Locust process"
    suite = [name for name in fields if name not in ("profile",)]
    assert set(BAD) <= set(suite), set(BAD) - set(suite)
    for name in suite:
        if name in BAD:
            value, message = BAD[name]
            answer = ui.swarm(**{name: value})
            assert not answer["success"] and message in answer["message"], (name, answer)
            assert answer["message"].startswith("obstack-load: "), answer
            assert ui.stats()["user_count"] == 0, f"{name}: no user may start"
        default = fields[name]["default_value"]
        answer = ui.swarm(users=1, **({name: default} if default is not None else {}))
        assert answer["success"], (name, answer)
        ui.stop()


def test_chromium_shows_the_refusal_and_no_user_starts(web_ui):
    ui, process, db = web_ui
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "web-ui-refusal.png"
    shown = subprocess.run(
        [sys.executable, str(REPO / "tests" / "browser.py"), ui.url, "otlp_encoding", "xml",
         str(screenshot)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert "obstack-load: " in shown.stdout and "otlp-encoding: 'xml'" in shown.stdout
    assert screenshot.stat().st_size > 0
    assert ui.stats()["user_count"] == 0 and ui.stats()["state"] == "ready"


def test_three_runs_started_and_stopped_in_the_web_ui_each_end_with_a_record_of_their_own(
    platform, tmp_path
):
    """A Stop in the web UI ends its run like any other ending: status, exit code, totals and
    the monitor's samples are recorded before the next start, and the samples lie within the
    run's own start and end (the monitor belongs to the run, not to the process)."""
    port, db = free_port(), tmp_path / "results.db"
    process = start_locust(
        "-f", "locustfiles/probe.py", "--host", platform.url, "--web-host", "127.0.0.1",
        "--web-port", str(port), "--results-db", str(db), "--monitor",
    )  # fmt: skip
    ui = WebUi(f"http://127.0.0.1:{port}", platform.url)
    try:
        wait_for(lambda: _answers(ui.url), timeout=120, interval=0.2)
        totals = []
        for label in ("one", "two", "three"):
            answer = ui.swarm(users=2, run_label=label)
            assert answer["success"], answer
            wait_for(lambda: ui.stats()["state"] != "stopped", timeout=120, interval=0.1)
            wait_for(lambda: ui.total() > 20, timeout=120, interval=0.2)
            totals.append(ui.stop())
            # the record is final (an exit code) before the next start, with no quit in between
            wait_for(lambda: runs(db)[-1]["exit_code"] is not None, timeout=120, interval=0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=300)
    recorded = runs(db)
    assert [r["label"] for r in recorded] == ["one", "two", "three"], err[-3000:]
    with sqlite3.connect(db) as conn:
        for run, total in zip(recorded, totals, strict=True):
            assert (run["status"], run["exit_code"]) == ("finished", 0), run
            assert json.loads(run["notes"])["ended_by"] == "the web UI's Stop"
            assert run["total_requests"] == run["intervals"] == total
            samples = [
                ts
                for (ts,) in conn.execute(
                    "SELECT ts FROM monitor_samples WHERE run_id = ?", (run["run_id"],)
                )
            ]
            assert samples, f"run {run['label']} has no monitor samples"
            assert all(run["started_at"] <= ts <= run["ended_at"] for ts in samples), run["label"]
    assert out.count("obstack-load summary") == 3, "one summary per run, printed at its Stop"
    assert process.returncode == 0

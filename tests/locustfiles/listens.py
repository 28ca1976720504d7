"""The probe locustfile plus a plugin of the test's own that listens to every suite event and
writes what it heard to $OBSTACK_TEST_HEARD, joins the phases of a run's end by name, and
stores rows in a table of its own: a new plugin needs nothing but the hooks."""

import json
import os

from locustfiles.probe import *  # noqa: F403
from obstack_load.results.schema import Table
from obstack_load.run.endings import join
from obstack_load.run.events import suite

LISTENS = Table("listens_heard", (("run_id", "text"), ("phase", "text"), ("status", "text")))

heard: dict = {}


@suite.thresholds_evaluated.add_listener
def _thresholds(verdict, verdicts, exit_code, **kwargs):
    heard["thresholds"] = {"verdict": verdict, "count": len(verdicts), "exit_code": exit_code}


@suite.summary_assembling.add_listener
def _summary(summary, lines, **kwargs):
    summary["listens"] = {"requests": summary["totals"]["requests"]}
    lines.append("  listens: a section of its own")


@suite.run_finalised.add_listener
def _finalised(run_id, status, exit_code, info, **kwargs):
    heard["finalised"] = {"run_id": run_id, "status": status, "exit_code": exit_code, **info}
    with open(os.environ["OBSTACK_TEST_HEARD"], "w") as out:
        json.dump(heard, out)


@join("judge")
def _judged(environment, run):
    heard.setdefault("phases", []).append("judge")


@join("decide")
def _decided(environment, run):
    heard.setdefault("phases", []).append(f"decide {run.ending.status}")


@suite.rows_recording.add_listener
def _rows(run_id, rows, **kwargs):
    rows[LISTENS] = [(run_id, phase, None) for phase in heard.get("phases", [])]

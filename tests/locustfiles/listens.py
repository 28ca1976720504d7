"""The probe locustfile plus a plugin of the test's own that listens to every suite event and
writes what it heard to $OBSTACK_TEST_HEARD: a new plugin needs nothing but the hooks."""

import json
import os

from locustfiles.probe import *  # noqa: F403
from obstack_load.events import suite

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

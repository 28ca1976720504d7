"""The suite, composed: the one import through which a locustfile loads every plugin (and, in
this package, the tools that read the composed suite: ``profiles`` checks a load profile with
every plugin's options known, ``help`` prints Locust's help with them).

    from obstack_load.plugins import ProfileShape  # noqa: F401  (every plugin, and --load-shape)
    from obstack_load.users.api import ApiUser  # noqa: F401

Each plugin does nothing until its option asks (``--capacity-search``, ``--monitor``,
``--chaos-experiment``, ``--threshold``...), except the results plugin, which records every
run, and the summary. ``ProfileShape`` is handed on because Locust takes a load shape from the
locustfile's own names.
"""

import gevent
from locust import events

import obstack_load.capacity.plugin  # noqa: F401  (--capacity-search)
import obstack_load.chaos.plugin  # noqa: F401  (--chaos-experiment: a chaos experiment under load)
import obstack_load.chaos.window_route  # noqa: F401  (the load's windows for Chaos Toolkit's chaos run)
import obstack_load.figures.database  # noqa: F401  (the database's and the platform's pool figures)
import obstack_load.figures.sampler  # noqa: F401  (the target's CPU and memory over the run)
import obstack_load.figures.seam  # noqa: F401  (--prometheus: where the target's figures come from)
import obstack_load.monitor.plugin  # noqa: F401  (--monitor: health probes beside the run)
import obstack_load.results.plugin  # noqa: F401  (the Test Results Database)
import obstack_load.run.accounting  # noqa: F401  (the ingestion ledger: workers' counts, the summary)
import obstack_load.run.arrival  # noqa: F401  (--arrival-rate: the open model)
import obstack_load.run.options  # noqa: F401  (--tenants-file, --seed, --summary-json)
import obstack_load.run.saturation  # noqa: F401  (/metrics: the saturation signal for autoscalers)
import obstack_load.run.summary  # noqa: F401  (the end-of-run summary)
import obstack_load.run.workers  # noqa: F401  (workers joining and leaving: the rates re-split)
import obstack_load.thresholds.plugin  # noqa: F401  (--threshold SLO gates and the exit code)
import obstack_load.ui.history_tab  # noqa: F401  (a History tab and /history pages in the web UI)
import obstack_load.ui.ingest_tab  # noqa: F401  (an Ingestion tab in the web UI)
from obstack_load.run.shapes import ProfileShape

__all__ = ["ProfileShape"]


@events.init.add_listener
def _loop_clock_is_now(**kwargs) -> None:
    """Bring gevent's loop clock up to date once every plugin has started (this listener is
    added after all of theirs). libev times a timer from the clock it read when the loop last
    ran, which before the first load may be the moment gevent was imported; Locust sets its
    ``--run-time`` timer right after ``init`` without the loop having run, so a start-up
    slower than the run time (imports and checks on a busy CI machine) ended a 3 s run 19 ms
    after it began, with no request sent and no run recorded."""
    gevent.get_hub().loop.update_now()

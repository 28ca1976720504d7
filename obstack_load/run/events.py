"""The suite's own events: how its plugins meet, declared as Locust declares its own.

Plugins never look each other up. One fires an event; whoever is loaded listens, the way
Locust's ``report_to_master`` hands every listener a ``data`` dict to add to. Use them as
``from obstack_load.run.events import suite`` then ``suite.run_finalised.add_listener(...)``.

They fire on the master or the standalone process, never on a worker, inside the phases of a
run's end (``obstack_load.run.endings``), which a plugin joins by name for anything else. Listeners must not raise: Locust's ``EventHook`` logs the
exception and marks the process as failed (exit code 2).
"""

from __future__ import annotations

from locust.event import EventHook


class SuiteEvents:
    thresholds_evaluated: EventHook
    """
    Fired when the thresholds have been evaluated for the last time, at the end of a run.

    :param environment: the Locust environment
    :param verdict: ``passed``, ``failed`` or ``aborted`` (a threshold stopped the run)
    :param verdicts: one ``thresholds.evaluate.Verdict`` per expression and scope
    :param exit_code: the exit code the thresholds set (0, 3 or 4)
    """

    figures_collecting: EventHook
    """
    Fired whenever thresholds are evaluated (at the end of a run, and at each check during it
    with ``--threshold-abort-on-fail``): each listener adds the figures it measures, by metric
    and scope, for thresholds to gate on. The database figures add, for example,
    ``figures["db_index_usage"] = {"metric_points": 0.98}`` (``db_index_usage{table=...}``).

    :param environment: the Locust environment
    :param figures: ``{metric: {scope value: number}}`` to add to (``""`` when unscoped)
    """

    rows_recording: EventHook
    """
    Fired once in the ``record`` phase of a run's end (``obstack_load.run.endings``), before the
    run's final row is written: each listener adds the rows it owns, for tables it defines
    itself (``results.schema.Table``), and the results plugin writes them all in one
    transaction. A new plugin's table needs no change to ``results/``; rows that could not be
    stored are counted in the run's ending (status ``results-incomplete``, exit code 5).

    :param environment: the Locust environment
    :param run_id: the run's id in the results database
    :param rows: ``{Table: [row tuple, ...]}`` to add to
    """

    summary_assembling: EventHook
    """
    Fired once at quit, when the end-of-run summary is being assembled.

    Each listener adds its own section to ``summary`` (under its own key, plain JSON-able data:
    it is also written by ``--summary-json``) and appends the lines it wants printed to
    ``lines``. The summary is printed and written after every listener has run.

    :param environment: the Locust environment
    :param exit_code: the process's exit code, as Locust will return it
    :param summary: the summary dict to add a section to
    :param lines: the printed summary, a list of lines to append to
    """

    run_finalised: EventHook
    """
    Fired when the run's record is final: its status, totals and exit code written (or spooled).

    :param environment: the Locust environment
    :param run_id: the run's id in the results database
    :param status: how the run ended (see ``run_ended``)
    :param exit_code: the exit code recorded with it
    :param info: what the results plugin reports of it (location, rows written and not)
    """

    workers_changed: EventHook
    """
    Fired on the master at a run's start and whenever a worker joins or leaves it, after the
    open-model rates were re-split among the workers now in it (``obstack_load.run.workers``).

    :param environment: the Locust environment
    :param changes: every change so far, oldest first: ``{"at", "after_s", "workers",
        "joined", "left"}`` (worker ids), the first being the workers at the start
    """

    slots_skipped: EventHook
    """
    Fired on the master when slots of a run-wide open-model rate went unsent because no worker
    ran users of its classes for a while (a worker left with them all, and Locust had not
    started them on another yet): the plugin that owns the rate counts them skipped.

    :param environment: the Locust environment
    :param name: the rate's name among the split rates (``arrival``, ``otlp-logs``, ...)
    :param slots: how many slots (iterations, or batches) went unsent
    """

    def __init__(self) -> None:
        for name, kind in self.__annotations__.items():
            if kind == "EventHook":
                setattr(self, name, EventHook())


suite = SuiteEvents()

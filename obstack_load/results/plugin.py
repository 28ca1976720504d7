"""The results plugin: streams every run into the Test Results Database.

Load it by importing it in a locustfile. It adds ``--results-db``, ``--run-label``, ``--run-tag``,
``--results-requests`` and friends (web UI, ``--config`` files, environment variables), and wires
the two recorders to Locust's events and the suite's:

* every process: ``node.NodeRecorder`` is the ``request`` listener; it keeps an interval
  histogram and, per ``--results-requests``, the raw rows, and samples this process's CPU;
* workers: ship all of that to the master with each Locust report (``report_to_master``), so
  workers need no database access and no options of their own;
* the master (or the standalone process): ``run.RunRecorder`` owns the run id, merges worker
  shipments (``worker_report``), closes finished intervals into the outbox, and runs the one
  writer. It stores the thresholds' verdicts (``suite.thresholds_evaluated``), writes every row
  when the run ends (the ``flush`` phase of ``obstack_load.run.endings``), writes or spools the run's final row once its status
  is decided (the ``record`` phase), and adds its section to the summary.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

import obstack_load.run.summary  # noqa: F401  (the summary shows how the run's record ended)
from obstack_load.core.config import ConfigError
from obstack_load.results.node import DEFAULT_BUFFER_ROWS, NodeRecorder
from obstack_load.results.run import GENERATOR_BOUND_CPU, RunRecorder, parse_tags, summary_lines
from obstack_load.results.store import (
    DEFAULT_SQLITE_PATH,
    StoreError,
    check_target,
    open_migrated,
)
from obstack_load.run.context import RunContext
from obstack_load.run.endings import join
from obstack_load.run.events import suite
from obstack_load.run.options import add_option, preflight, validator

logger = logging.getLogger("obstack_load.results")
REPORT_KEY = "obstack_results"


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:
    add_option(
        parser,
        "--results-db",
        f"postgresql:// DSN or SQLite path (default {DEFAULT_SQLITE_PATH})",
        default=DEFAULT_SQLITE_PATH,
        is_secret=True,
        include_in_web_ui=False,  # one database per Locust process: it is opened at start-up
    )
    add_option(parser, "--run-label", "a name for this run", default="")
    add_option(
        parser,
        "--run-tag",
        "k=v tag for this run; repeat for more",
        env="OBSTACK_RUN_TAGS",
        action="append",
        default=None,  # not []: Locust's web UI would take an empty list for a list of ints
    )
    add_option(
        parser,
        "--results-requests",
        "raw per-request rows to keep (default failures; aggregates are always kept)",
        choices=("all", "failures", "none"),
        default="failures",
    )
    add_option(
        parser,
        "--results-buffer-rows",
        "raw rows held in memory while the database is slow or away; more are dropped and counted",
        type=int,
        default=DEFAULT_BUFFER_ROWS,
    )
    add_option(
        parser,
        "--results-interval",
        "seconds per interval aggregate (default 5)",
        type=float,
        default=5.0,
    )
    add_option(
        parser,
        "--generator-bound-cpu",
        "a load generator's CPU %% (of one core) from which its samples count as saturated; a "
        f"run is generator-bound when a fifth of a node's samples are (default {GENERATOR_BOUND_CPU:g})",
        type=float,
        default=GENERATOR_BOUND_CPU,
    )
    add_option(
        parser,
        "--results-wait",
        "seconds to wait at the end for a results database that is away, before spooling "
        "its rows to a local file (default 60)",
        type=float,
        default=60.0,
    )
    add_option(
        parser,
        "--results-spool-dir",
        "where rows the database never took are spooled (default results/spool)",
        default="results/spool",
    )


@validator
def check_options(options: Any) -> None:
    """A bad tag, number or database location stops the run (or a web UI start) before load."""
    parse_tags(options.run_tag)
    for option, value, low in (
        ("--results-interval", options.results_interval, 0.001),
        ("--results-buffer-rows", options.results_buffer_rows, 0),
        ("--results-wait", options.results_wait, 0),
    ):
        if not value >= low:  # also refuses NaN
            raise ConfigError(option, "", f"must be {'> 0' if low else '>= 0'}, got {value}")
    try:
        check_target(options.results_db)
    except StoreError as exc:
        raise ConfigError("--results-db", "", str(exc)) from None


def _guard(function):
    """Listeners must never raise into Locust: it would set exit code 2 or kill a greenlet."""

    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception:
            logger.exception("obstack-load results: %s failed", function.__name__)

    wrapped.__name__ = function.__name__
    return wrapped


class ResultsPlugin:
    """This process's recorders, wired to the events: one per process, on its Environment."""

    def __init__(self) -> None:
        self.node = NodeRecorder()
        self.run: RunRecorder | None = None  # on the master or standalone process only
        self.info: dict[str, Any] = {}  # how the run's record ended, for the summary

    def check(self, environment: Environment) -> None:
        """An unreachable database stops the run before any load."""
        options = environment.parsed_options
        try:
            open_migrated(options.results_db).close()
        except StoreError as exc:
            raise ConfigError("--results-db", "", str(exc)) from None
        self.run = RunRecorder(environment, self.node)

    def start(self, environment: Environment, run: RunContext) -> None:
        runner = environment.runner
        options = environment.parsed_options
        if isinstance(runner, WorkerRunner):
            self.node.configure(options, runner.client_id, "worker", environment.stats)
        elif isinstance(runner, MasterRunner):  # its stats are the workers', from their reports
            if self.run is not None:
                self.run.start_run()
            self.node.configure(options, "master", "master")
        else:
            if self.run is not None:
                self.run.start_run()
            self.node.configure(options, "standalone", "standalone", environment.stats)
        self.node.start_sampler()

    @_guard
    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        # Locust's own listener ran first (it was added with the runner, before ``init``): it
        # has put its entries in the report and reset them
        self.node.carry(data.get("stats", []))
        data[REPORT_KEY] = self.node.ship()

    @_guard
    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        shipment = data.get(REPORT_KEY)
        if shipment and self.run is not None:
            self.run.take_node_data(shipment)

    @_guard
    def on_thresholds_evaluated(self, verdict: str, verdicts: list, **kwargs: Any) -> None:
        if self.run is not None:
            now = time.time()
            self.run.set_thresholds(verdict, [v.row(now) for v in verdicts])

    def flush(self, environment: Environment, run: RunContext) -> None:
        """Every row to the database; what could not be stored goes into the ending."""
        if self.run is not None:
            if run.ending.stopped_by_user:
                self.run.set_note("ended_by", "the web UI's Stop")
            self.run.close(run.ending, environment.parsed_options.results_wait)

    def record(self, environment: Environment, run: RunContext) -> None:
        """The run's final row, with its decided status; a failed write revises the ending."""
        if self.run is None or self.run.run_id is None:  # no run row was ever begun
            return
        options = environment.parsed_options
        ending = run.ending
        rows: dict = {}
        suite.rows_recording.fire(environment=environment, run_id=self.run.run_id, rows=rows)
        lost = self.run.record_rows(rows)
        if lost:
            ending.revise(rows_not_stored=ending.rows_not_stored + lost)
        self.info = self.run.end(
            ending.status, ending.exit_code, options.results_wait, Path(options.results_spool_dir)
        )
        if self.info["status"] != ending.status:  # the last write failed too: rows were spooled
            lost = self.info["rows_spooled"] + self.info["rows_not_written"]
            ending.revise(rows_not_stored=ending.rows_not_stored + max(lost, 1))

    @_guard
    def on_summary(self, summary: dict, lines: list[str], **kwargs: Any) -> None:
        if self.info:
            summary["results"] = self.info
            lines.extend(summary_lines(self.info))


def results_of(environment: Environment) -> ResultsPlugin:
    """This process's recorders (on the Environment, made at ``init``)."""
    return environment.obstack_results


@events.init.add_listener
def _wire(environment: Environment, **kwargs: Any) -> None:
    plugin = environment.obstack_results = ResultsPlugin()
    environment.events.request.add_listener(plugin.node.on_request)  # five numbers, no lookup
    environment.events.report_to_master.add_listener(plugin.on_report_to_master)
    environment.events.worker_report.add_listener(plugin.on_worker_report)


preflight(lambda environment: results_of(environment).check(environment))  # after _wire


@join("start")
def start(environment: Environment, run: RunContext) -> None:
    results_of(environment).start(environment, run)


@join("flush")
def flush(environment: Environment, run: RunContext) -> None:
    results_of(environment).flush(environment, run)


@join("record")
def record(environment: Environment, run: RunContext) -> None:
    results_of(environment).record(environment, run)


@suite.thresholds_evaluated.add_listener
def _thresholds(environment: Environment, **kwargs: Any) -> None:
    results_of(environment).on_thresholds_evaluated(**kwargs)


@suite.summary_assembling.add_listener
def _summary(environment: Environment, **kwargs: Any) -> None:
    results_of(environment).on_summary(**kwargs)


@suite.workers_changed.add_listener
def _workers(environment: Environment, changes: list[dict[str, Any]], **kwargs: Any) -> None:
    """The workers' count over the run, each join and leave, in the run row's notes."""
    recorder = results_of(environment).run
    if recorder is not None:
        recorder.set_note("workers", changes)

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
  writer. It stores the thresholds' verdicts (``suite.thresholds_evaluated``) and finalises the
  run while the summary is assembled (``suite.summary_assembling``), adding its own section.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

import obstack_load.summary  # noqa: F401  (the run is finalised while the summary is assembled)
from obstack_load.config import ConfigError
from obstack_load.events import suite
from obstack_load.options import add_option, preflight
from obstack_load.results.node import DEFAULT_BUFFER_ROWS, NodeRecorder
from obstack_load.results.run import RunRecorder, parse_tags, summary_lines
from obstack_load.results.store import DEFAULT_SQLITE_PATH, StoreError, open_migrated

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
    )
    add_option(parser, "--run-label", "a name for this run", default="")
    add_option(
        parser,
        "--run-tag",
        "k=v tag for this run; repeat for more",
        env="OBSTACK_RUN_TAGS",
        action="append",
        default=[],
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
    """This process's recorders, wired to the events: one instance per process (``plugin``)."""

    def __init__(self) -> None:
        self.node = NodeRecorder()
        self.run: RunRecorder | None = None  # on the master or standalone process only

    def check(self, environment: Environment) -> None:
        """An unreachable database or a bad tag stops the run before any load."""
        options = environment.parsed_options
        parse_tags(options.run_tag)
        try:
            open_migrated(options.results_db).close()
        except StoreError as exc:
            raise ConfigError("--results-db", "", str(exc)) from None
        self.run = RunRecorder(environment, self.node)

    @_guard
    def on_test_start(self, environment: Environment, **kwargs: Any) -> None:
        runner = environment.runner
        if isinstance(runner, WorkerRunner):
            self.node.configure(environment.parsed_options, runner.client_id, "worker")
        else:
            role = "master" if isinstance(runner, MasterRunner) else "standalone"
            if self.run is not None:
                self.run.start_run()
            self.node.configure(environment.parsed_options, role, role)
        self.node.start_sampler()

    @_guard
    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        data[REPORT_KEY] = self.node.ship()

    @_guard
    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        shipment = data.get(REPORT_KEY)
        if shipment and self.run is not None:
            self.run.take_node_data(shipment)

    @_guard
    def on_test_stop(self, environment: Environment, **kwargs: Any) -> None:
        if self.run is not None:
            self.run.finish_run("stopped")
            self.run.writer.wake.set()

    @_guard
    def on_thresholds_evaluated(self, verdict: str, verdicts: list, **kwargs: Any) -> None:
        if self.run is not None:
            now = time.time()
            self.run.set_thresholds(verdict, [v.row(now) for v in verdicts])

    @_guard
    def on_summary(self, exit_code: int, summary: dict, lines: list[str], **kwargs: Any) -> None:
        if self.run is not None:
            summary["results"] = self.run.finalize(exit_code)
            lines.extend(summary_lines(summary["results"]))


plugin = ResultsPlugin()
events.request.add_listener(plugin.node.on_request)
preflight(plugin.check)
events.test_start.add_listener(plugin.on_test_start)
events.report_to_master.add_listener(plugin.on_report_to_master)
events.worker_report.add_listener(plugin.on_worker_report)
events.test_stop.add_listener(plugin.on_test_stop)
suite.thresholds_evaluated.add_listener(plugin.on_thresholds_evaluated)
suite.summary_assembling.add_listener(plugin.on_summary)

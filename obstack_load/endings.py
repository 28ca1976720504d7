"""How a run ended: one status and one exit code, decided in one place at the end of the run.

Every way a run can end leaves a record that says how it ended:

=====================  =========  ===================================================
status                 exit code  when
=====================  =========  ===================================================
``finished``           0, 1, 3    it ran to its end (1: no thresholds were given and requests
                                  failed; 3: a threshold failed, see ``thresholds_verdict``)
``aborted``            4          a failing threshold stopped it (``--threshold-abort-on-fail``)
``degraded``           6          a worker was lost, so the load was lower than asked
``interrupted``        130        SIGINT (Ctrl-C) or SIGTERM stopped it
``results-incomplete`` 5          rows could not be stored (spooled to a file, or dropped)
=====================  =========  ===================================================

When several apply, the later rows of the table win: an interrupted run whose rows could not
be stored is ``results-incomplete``, since that is what a reader of the record must know first.
Bad input (exit code 2) never starts a run.

SIGTERM ends a run exactly as Ctrl-C does. Kubernetes ends a Job with SIGTERM, and so do CI
cancellations and ``timeout``; Locust installs its own SIGTERM handler only once a load shape
has finished, so a run with a shape was killed outright, and Locust's handler, once there, skips
the Ctrl-C path. Here a handler installed at start-up (and again at each start) turns SIGTERM into the ``KeyboardInterrupt`` Ctrl-C raises: users
stop, results are flushed, thresholds are evaluated, and the summary, JSON, CSV and HTML are
written, on a standalone process, a master (which tells its workers to quit) and a worker alike.

At Locust's ``quitting`` this module runs last (plugins import it before registering their own
listeners, and Locust fires ``quitting`` in reverse order of registration). It fires
``suite.run_ending`` so that plugins flush what they hold and report problems into the
``Ending``, decides the status and exit code, and fires ``suite.run_ended`` with them.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from typing import Any

import gevent
from locust import events
from locust import log as locust_log
from locust.runners import (
    STATE_INIT,
    STATE_MISSING,
    STATE_STOPPED,
    MasterRunner,
    WorkerRunner,
)

from obstack_load.events import suite

EXIT_THRESHOLD_FAILED = 3
EXIT_ABORTED = 4
EXIT_RESULTS_INCOMPLETE = 5
EXIT_DEGRADED = 6
EXIT_CHAOS_FAILED = 8  # a chaos experiment's verdict failed (7 is `obstack-load capacity`'s)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report an interrupted command
FINAL_REPORT_WAIT_S = 10.0  # workers report every 3 s


@dataclass
class Ending:
    """What this process learnt about how its run ends."""

    signal: str | None = None  # SIGTERM or SIGINT, when one interrupted the run
    thresholds_verdict: str | None = None  # passed, failed or aborted
    chaos_verdict: str | None = None  # passed or failed, when a chaos experiment was attached
    missing_workers: list[str] = field(default_factory=list)
    rows_not_stored: int = 0  # spooled to a file or dropped: not in the results database
    status: str | None = None
    exit_code: int | None = None

    def reset(self) -> None:
        fresh = Ending()
        for name in vars(fresh):
            setattr(self, name, getattr(fresh, name))

    def decide(self, base_exit_code: int) -> tuple[str, int]:
        """The status and exit code; ``base_exit_code`` is what Locust and the thresholds set."""
        status, code = "finished", base_exit_code
        if self.thresholds_verdict == "failed":
            code = EXIT_THRESHOLD_FAILED
        if self.chaos_verdict == "failed":
            code = EXIT_CHAOS_FAILED
        if self.missing_workers:
            status, code = "degraded", EXIT_DEGRADED
        if self.thresholds_verdict == "aborted":
            status, code = "aborted", EXIT_ABORTED
        if self.signal:
            status, code = "interrupted", EXIT_INTERRUPTED
        if self.rows_not_stored:
            status, code = "results-incomplete", EXIT_RESULTS_INCOMPLETE
        if base_exit_code == 2:  # an unhandled error inside Locust: keep Locust's word
            code = 2
        self.status, self.exit_code = status, code
        return status, code


ending = Ending()
_environments: list = []  # this process's, to see whether a run is on and whether a web UI is


def running(runner) -> bool:
    """Whether ``runner`` has a run on (spawning, running or stopping users)."""
    return runner.state not in (STATE_STOPPED, STATE_INIT)


def _interrupt(signum: int, frame: Any) -> None:
    environment = _environments[0] if _environments else None
    runner = environment.runner if environment is not None else None
    if runner is None or running(runner):
        ending.signal = signal.Signals(signum).name  # it cut a run short
    if signum == signal.SIGTERM and environment is not None and environment.web_ui is not None:
        # Locust's Ctrl-C leaves an --autostart web UI running; SIGTERM must end the process:
        # stop the run and the web UI, and Locust's main goes on to its shutdown.
        gevent.spawn(_quit_web_ui, environment)
        return
    raise KeyboardInterrupt  # gevent's hub hands it to the main greenlet, as for Ctrl-C


def _quit_web_ui(environment) -> None:
    if environment.runner is not None:
        environment.runner.quit()
    environment.web_ui.stop()


def locust_exit_code(environment) -> int:
    """The exit code Locust itself would return (its ``main.shutdown``)."""
    if environment.process_exit_code is not None:
        return environment.process_exit_code
    runner = environment.runner
    if runner is not None and (len(runner.errors) or len(runner.exceptions)):
        return environment.parsed_options.exit_code_on_error
    if locust_log.unhandled_greenlet_exception:
        return 2
    return 0


def _install_handlers() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)


@events.init.add_listener
def _install(environment, **kwargs: Any) -> None:
    ending.reset()
    _environments[:] = [environment]
    _install_handlers()


@events.test_start.add_listener
def _start(environment, **kwargs: Any) -> None:
    # Again: a run without a shape has Locust's own SIGTERM handler by now (it calls shutdown
    # straight away, unseen by us); Python's handler replaces it, and the ending is the same.
    interrupted = ending.signal
    ending.reset()
    ending.signal = interrupted
    _install_handlers()


@suite.thresholds_evaluated.add_listener
def _thresholds(verdict: str, **kwargs: Any) -> None:
    ending.thresholds_verdict = verdict


_last_report: dict[str, float] = {}  # worker id -> when its last report arrived (monotonic)


@events.worker_report.add_listener
def _reported(client_id: str, **kwargs: Any) -> None:
    _last_report[client_id] = time.monotonic()


def stop_users(runner) -> None:
    """Stop the users (their ``on_stop`` too, such as logouts) before the run is closed, so the
    record counts what Locust's own tables count. On a master, then wait for every worker's
    next report: workers report every 3 s, and the last one holds their final requests."""
    if not running(runner):
        return
    runner.stop()
    if isinstance(runner, MasterRunner):
        stopped = time.monotonic()
        waiting = [c.id for c in runner.clients.values() if c.state != STATE_MISSING]
        deadline = stopped + FINAL_REPORT_WAIT_S
        while time.monotonic() < deadline and any(
            _last_report.get(worker, 0.0) <= stopped for worker in waiting
        ):
            gevent.sleep(0.1)


@events.quitting.add_listener
def _decide(environment, **kwargs: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner) or runner is None:
        return
    stop_users(runner)
    if isinstance(runner, MasterRunner):
        lost = [c.id for c in runner.clients.values() if c.state == STATE_MISSING]
        ending.missing_workers = sorted({*ending.missing_workers, *lost})
    suite.run_ending.fire(environment=environment, ending=ending)
    status, code = ending.decide(locust_exit_code(environment))
    environment.process_exit_code = code
    suite.run_ended.fire(environment=environment, status=status, exit_code=code)

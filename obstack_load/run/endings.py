"""The end of a run, in named phases, owned here: every way a run ends goes through them.

A run ends when Locust quits (its time limit, Ctrl-C, SIGTERM, SIGHUP, a threshold abort), and
also when a person presses Stop in the web UI: a web UI process may run many tests, and each
one gets its own status, exit code, summary and rows before the next start. The phases run in
this order, whatever order the plugins were imported in:

==============  ===============================================================================
phase           what happens
==============  ===============================================================================
``stop``        the users stop (``on_stop`` too) and a master waits for every worker's last
                report; plugins stop what runs beside the load (the monitor's probes, the
                capacity search, an attached chaos experiment)
``judge``       verdicts are taken: thresholds, the chaos experiment; they go into the ending
``flush``       plugins hand over what they hold; the results plugin writes every row and
                reports what it could not store (``ending.rows_not_stored``)
``decide``      the status and exit code are decided here, once (``outcome.Ending.decide``);
                from then on the ending is frozen, and a late fact goes through ``revise``
``record``      every plugin's own rows (``suite.rows_recording``), then the run's row with
                its status, written or spooled (``suite.run_finalised`` follows)
``summarise``   the summary is printed and ``--summary-json`` written: right away for a run
                stopped in the web UI, after Locust's own tables at quit otherwise
==============  ===============================================================================

Before them, ``start`` begins each run (on workers too) with a fresh ``RunContext``: plugins
that keep per-run state set it up there rather than at Locust's ``test_start``, whose
listeners run in import order.

A plugin joins a phase by name: ``@endings.join("judge")`` on a function taking
``(environment, run)``, where ``run`` is the ``run.context.RunContext`` ending. A listener that
raises is logged with its plugin's name and recorded as ``"<plugin> failed: <one line>"`` in
the ending; it never stops the other phases.

SIGTERM and SIGHUP end a run exactly as Ctrl-C does. Kubernetes ends a Job with SIGTERM, and
so do CI cancellations and ``timeout``; a closed SSH session sends SIGHUP. Locust installs its
own SIGTERM handler only once a load shape has finished, so a run with a shape was killed
outright, and Locust's handler, once there, skips the Ctrl-C path. Here a handler installed at
start-up (and again at each start) turns those signals into the ``KeyboardInterrupt`` Ctrl-C
raises: users stop, results are flushed, thresholds are evaluated, and the summary, JSON, CSV
and HTML are written, on a standalone process, a master (which tells its workers to quit) and
a worker alike.
"""

from __future__ import annotations

import functools
import logging
import signal
import time
from collections.abc import Callable
from typing import Any

import gevent
from gevent.lock import RLock
from locust import events
from locust import log as locust_log
from locust.env import Environment
from locust.event import EventHook
from locust.rpc import Message
from locust.runners import (
    STATE_INIT,
    STATE_MISSING,
    STATE_STOPPED,
    MasterRunner,
    WorkerRunner,
)

from obstack_load.run.context import RunContext, begin, run_of

logger = logging.getLogger("obstack_load.run.endings")
PHASES = ("start", "stop", "judge", "flush", "decide", "record", "summarise")
FINAL_REPORT_WAIT_S = 15.0  # a worker's users may take --stop-timeout (10 s in CI) to stop
FINAL_REPORT_KEY = "obstack_final_report"
INTERRUPTING = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

_phases: dict[str, EventHook] = {name: EventHook() for name in PHASES}


def join(phase: str) -> Callable[[Callable[[Environment, RunContext], None]], Callable]:
    """Join ``phase`` with ``listener(environment, run)``; used as a decorator."""
    if phase not in _phases:
        raise ValueError(f"no phase {phase!r}; the phases are {', '.join(PHASES)}")

    def add(listener: Callable[[Environment, RunContext], None]) -> Callable:
        _phases[phase].add_listener(_guarded(listener))
        return listener

    return add


def _guarded(listener: Callable[[Environment, RunContext], None]) -> Callable[..., None]:
    """A failing plugin is named in the ending, and the other phases still run."""

    def call(environment: Environment, run: RunContext) -> None:
        try:
            listener(environment, run)
        except Exception as exc:
            plugin = listener.__module__.removeprefix("obstack_load.")
            logger.exception("obstack-load: %s failed at the end of the run", plugin)
            plugin_failed(run, plugin, exc)

    call.__name__ = getattr(listener, "__name__", "listener")
    return call


def plugin_failed(run: RunContext, plugin: str, exc: BaseException) -> None:
    """``"<plugin> failed: <one line>"`` in the run's ending: the summary's first lines of
    trouble, status ``plugin-failed``, exit code 10 (``core/outcome.py``)."""
    line = f"{plugin} failed: {type(exc).__name__}: {' '.join(str(exc).split())}"[:300]
    if run.ending.decided:
        run.ending.revise(plugin_failures=[*run.ending.plugin_failures, line])
    else:
        run.ending.plugin_failures.append(line)


def watch(run: RunContext, plugin: str, greenlet: gevent.Greenlet) -> gevent.Greenlet:
    """A plugin's greenlet that dies of an exception fails the run it belongs to, so that the
    run never claims what the plugin did not measure."""

    def died(dead: gevent.Greenlet) -> None:
        logger.error("obstack-load: %s failed: %s", plugin, dead.exception)
        plugin_failed(run, plugin, dead.exception)

    greenlet.link_exception(died)
    return greenlet


def running(runner) -> bool:
    """Whether ``runner`` has a run on (spawning, running or stopping users)."""
    return runner.state not in (STATE_STOPPED, STATE_INIT)


def locust_exit_code(environment: Environment) -> int:
    """The exit code Locust itself would return (its ``main.shutdown``)."""
    if environment.process_exit_code is not None:
        return environment.process_exit_code
    runner = environment.runner
    if runner is not None and (len(runner.errors) or len(runner.exceptions)):
        return environment.parsed_options.exit_code_on_error
    if locust_log.unhandled_greenlet_exception:
        return 2
    return 0


class Endings:
    """This process's runs: which is on, and the one lock under which a run ends exactly once
    (a web UI Stop and a SIGTERM may race to end the same run)."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.lock = RLock()
        self.started = False  # the current run has started and not yet ended
        self.pending: gevent.Greenlet | None = None  # a web UI run's ending under way

    def wait(self) -> None:
        """Until a web UI run's ending is done: its figures are read before the next start
        resets Locust's stats, and it is not ended twice."""
        if self.pending is not None and self.pending is not gevent.getcurrent():
            self.pending.join()

    def start(self) -> RunContext:
        with self.lock:
            self.started = True
            self.environment.process_exit_code = None  # the last run's code is not this one's
            return begin(self.environment)

    def end(self, *, summarise_now: bool) -> RunContext | None:
        """Run the phases for the current run, once. ``summarise_now`` is False at quit, where
        the summary waits for Locust's own tables (``summarise_at_quit``)."""
        self.wait()  # a web UI stop may be ending it already
        with self.lock:
            run = run_of(self.environment)
            if not self.started or run.ended:
                return None
            environment = self.environment
            stop_users(environment, run)
            for phase in ("stop", "judge", "flush"):
                _phases[phase].fire(environment=environment, run=run)
            run.ending.decide(locust_exit_code(environment))
            _phases["decide"].fire(environment=environment, run=run)
            environment.process_exit_code = run.ending.exit_code
            _phases["record"].fire(environment=environment, run=run)
            environment.process_exit_code = run.ending.exit_code  # a revision in record counts
            run.ended_at = time.time()
            self.started = False
            if summarise_now:
                summarise(environment, run)
            return run


def endings_of(environment: Environment) -> Endings:
    found = getattr(environment, "obstack_endings", None)
    if found is None:
        found = environment.obstack_endings = Endings(environment)
    return found


def summarise(environment: Environment, run: RunContext) -> None:
    if not run.summary_printed:
        run.summary_printed = True
        _phases["summarise"].fire(environment=environment, run=run)


def stop_users(environment: Environment, run: RunContext) -> None:
    """Stop the users (their ``on_stop`` too, such as logouts) before the run is closed, so the
    record counts what Locust's own tables count. On a master, then wait for every worker's
    final report: the one it sends once its users have stopped (``_final_report``)."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        if running(runner):
            runner.stop()
        wait_for_final_reports(environment, run)
        lost = [c.id for c in runner.clients.values() if c.state == STATE_MISSING]
        run.ending.missing_workers = sorted({*run.ending.missing_workers, *lost})
    elif running(runner):
        runner.stop()


def wait_for_final_reports(environment: Environment, run: RunContext) -> None:
    """Until every worker that took part in the run, and is not lost, has sent its final
    report, at most ``FINAL_REPORT_WAIT_S``. Locust's own signs are no use here: a worker that
    has stopped is dropped from the master's list until it is ready again, and a report that
    arrives after the stop may still precede the requests its users finished under
    ``--stop-timeout``."""
    runner = environment.runner
    deadline = time.monotonic() + FINAL_REPORT_WAIT_S
    while time.monotonic() < deadline:
        lost = {c.id for c in runner.clients.values() if c.state == STATE_MISSING}
        if set(run.last_report) - lost <= run.final_reports:
            return
        gevent.sleep(0.1)
    missing = sorted(set(run.last_report) - run.final_reports)
    logger.warning("obstack-load: no final report from %s within %.0f s: their last seconds are "
                   "not in the totals", ", ".join(missing), FINAL_REPORT_WAIT_S)  # fmt: skip


def _interrupt(environment: Environment, signum: int, frame: Any) -> None:
    runner = environment.runner
    run = run_of(environment)
    if run.ending.signal is not None and not run.ended:
        # a second signal (the whole group, or a forwarded one) must not cut the ending itself
        # short: its rollbacks and its record come first
        logger.warning("obstack-load: %s: the run is already ending", signal.Signals(signum).name)
        return
    if runner is None or running(runner):
        run.ending.signal = signal.Signals(signum).name  # it cut a run short
    if signum != signal.SIGINT and environment.web_ui is not None:
        # Locust's Ctrl-C leaves an --autostart web UI running; SIGTERM must end the process:
        # stop the run and the web UI, and Locust's main goes on to its shutdown.
        gevent.spawn(_quit_web_ui, environment)
        return
    _interrupt_main_greenlet()


def _interrupt_main_greenlet() -> None:
    """Raise Ctrl-C's ``KeyboardInterrupt`` in the main greenlet, where Locust's main catches
    it and shuts down. Not in the greenlet the handler happens to run in: Python runs a signal
    handler in whichever greenlet is executing, and three of Locust's own (the console stats
    printer, the stats history, the CSV writer) catch ``KeyboardInterrupt`` and end quietly,
    so a SIGTERM that landed in one of them left the run going to its time limit."""
    hub = gevent.get_hub()
    hub.loop.run_callback(hub.parent.throw, KeyboardInterrupt)


def _quit_web_ui(environment: Environment) -> None:
    endings_of(environment).end(summarise_now=False)
    if environment.runner is not None:
        environment.runner.quit()
    environment.web_ui.stop()


def _install_handlers(environment: Environment) -> None:
    for signum in INTERRUPTING:
        signal.signal(signum, functools.partial(_interrupt, environment))


@events.init.add_listener
def _install(environment: Environment, **kwargs: Any) -> None:
    endings_of(environment)
    _install_handlers(environment)
    if environment.web_ui is not None:
        _watch_stop_button(environment)

    # Locust hands these two events no environment: they are bound to this one here.
    def reported(client_id: str, data: dict, **kwargs: Any) -> None:
        run = run_of(environment)
        run.last_report[client_id] = time.monotonic()
        if data.get(FINAL_REPORT_KEY):
            run.final_reports.add(client_id)

    def mark_final(client_id: str, data: dict, **kwargs: Any) -> None:
        run = run_of(environment)
        if run.final_report_due:
            data[FINAL_REPORT_KEY], run.final_report_due = True, False

    def summarise_at_quit(**kwargs: Any) -> None:
        """After Locust has printed its own tables, so the summary is the last thing shown."""
        run = run_of(environment)
        if run.ended and not isinstance(environment.runner, WorkerRunner):
            summarise(environment, run)

    environment.events.worker_report.add_listener(reported)
    environment.events.report_to_master.add_listener(mark_final)
    environment.events.quit.add_listener(summarise_at_quit)


def _watch_stop_button(environment: Environment) -> None:
    """The web UI's Stop is the person's: the run it ends is ``stopped`` (a time limit that
    stops an --autostart run is not). A start waits until the last run's ending is done."""
    from flask import request

    @environment.web_ui.app.before_request
    def mark_stop() -> None:
        if request.method != "POST":
            return
        path = request.path.rstrip("/")
        if path.endswith("/stop"):
            run = run_of(environment)
            if running(environment.runner) and not run.ended:
                run.ending.stopped_by_user = True
        elif path.endswith("/swarm"):
            endings_of(environment).wait()


@events.test_stopping.add_listener
def _stopping(environment: Environment, **kwargs: Any) -> None:
    run = run_of(environment)
    if run.stop_requested_at is None:
        run.stop_requested_at = time.monotonic()


@events.test_start.add_listener
def _start(environment: Environment, **kwargs: Any) -> None:
    # Again: a run without a shape has Locust's own SIGTERM handler by now (it calls shutdown
    # straight away, unseen by us); Python's handler replaces it, and the ending is the same.
    _install_handlers(environment)
    if isinstance(environment.runner, WorkerRunner):
        _phases["start"].fire(environment=environment, run=begin(environment))
        return
    endings = endings_of(environment)
    endings.end(summarise_now=True)  # a run the web UI restarted without a stop between
    # under the lock: a run that ends while it is still starting (a short --run-time on a busy
    # machine) ends once its plugins have started, never half-begun
    with endings.lock:
        _phases["start"].fire(environment=environment, run=endings.start())


@events.test_stop.add_listener
def _stopped(environment: Environment, **kwargs: Any) -> None:
    """A run in a web UI process ends when it stops: Stop, or an --autostart run's time limit.
    Headless runs end at ``quitting``, which follows at once."""
    runner = environment.runner
    if environment.web_ui is None or isinstance(runner, WorkerRunner):
        return
    if getattr(environment.parsed_options, "headless", False):
        return
    endings = endings_of(environment)
    endings.pending = gevent.spawn(endings.end, summarise_now=True)


@events.test_stop.add_listener
def _final_reports_before_quit(environment: Environment, **kwargs: Any) -> None:
    """Locust's master quits (a headless run's --run-time) by stopping without telling its
    workers, telling them to quit, and listening 0.5 s more before it stops listening. A worker
    slower than that to stop (users finishing under --stop-timeout, a busy machine) had its
    last report dropped, and the run's totals missed its last seconds, unseen (CI: the platform
    served 586 requests, the master counted 549). So a master whose workers still have users
    at this point tells them to stop, while it still listens, and waits for their reports."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner) or not runner.user_count:
        return  # a stop that told the workers has waited for their users already
    for client in runner.clients.values():
        if client.state != STATE_MISSING:
            runner.server.send_to_client(Message("stop", None, client.id))
    wait_for_final_reports(environment, run_of(environment))


@events.test_stop.add_listener
def _final_report(environment: Environment, **kwargs: Any) -> None:
    """A worker whose users have all stopped reports at once, marked final, before it tells
    the master it has stopped (or quits): Locust sends no report at a stop, so a worker's last
    requests reached the master only with its next timed report, up to 3 s later, which the
    master may not wait for. The master waits for these (``wait_for_final_reports``)."""
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        run_of(environment).final_report_due = True
        # Locust's own report (its stats, and every report_to_master listener's part); Locust
        # has no public way to send one out of turn
        runner._send_stats()


@events.quitting.add_listener
def _quitting(environment: Environment, **kwargs: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or environment.runner is None:
        return
    endings_of(environment).end(summarise_now=False)
    run = run_of(environment)
    if run.ending.exit_code is not None:
        environment.process_exit_code = run.ending.exit_code

"""``--chaos-experiment FILE``: a Chaos Toolkit experiment run inside a Locust run, judged.

Load it from a locustfile (``import obstack_load.chaos.plugin``; ``mixed.py``, ``api.py``,
``ingest.py`` and ``probe.py`` do) or run ``obstack-load chaos run FILE``. On the master or
the standalone process, once the load has warmed up (``warmup_s``), a greenlet runs the
experiment with ``chaostoolkit-lib``: the steady-state hypothesis, the method (the faults, the
wait for recovery), the hypothesis again, and the rollbacks, which always run, even when the
run is cut short. Meanwhile it checks the allowance and the other moded probes every second,
the health monitor (``--monitor``, turned on by this option) probes the target, and marked
points are ingested to be read back afterwards (``datacheck``).

The verdict (``verdict.decide``) is printed, added to the summary (``chaos``), stored with the
run (``chaos_results``), and fails the run with exit code 8. The run ends when the experiment
does (a run from the web UI stops its users instead, and the web UI stays).
"""

from __future__ import annotations

import copy
import logging
import time
import uuid
from typing import Any

import gevent
from chaoslib.run import Runner
from locust import events
from locust.runners import WorkerRunner

from obstack_load.chaos import datacheck, experiment, live, runs
from obstack_load.chaos.activities import hypothesis_holds
from obstack_load.chaos.verdict import DataCheck, ModeProbe, Verdict, decide
from obstack_load.monitor.plugin import Monitor, monitor_of
from obstack_load.results.schema import CHAOS_RESULTS
from obstack_load.run.context import RunContext, run_of
from obstack_load.run.endings import join, watch
from obstack_load.run.events import suite
from obstack_load.run.options import add_option, validator

logger = logging.getLogger("obstack_load.chaos")
SEND_EVERY_S = 0.2  # a marked point five times a second: 100 in a 20 s fault


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    add_option(parser, "--chaos-experiment", "run this Chaos Toolkit experiment (YAML or JSON) "
               "alongside the load and judge the recovery; turns on --monitor (docs/chaos.md)",
               default="")  # fmt: skip


@validator
def _check(options: Any) -> None:
    path = getattr(options, "chaos_experiment", "") or ""
    if path:
        experiment.load(path)


def resolved_configuration(experiment: dict[str, Any], key: str, host: str) -> dict[str, Any]:
    """The experiment's configuration as Chaos Toolkit resolves it (``type: env`` entries read
    from the environment, ``TOXIPROXY_URL`` among them), with this run's key and host: the one
    configuration the method, the probes and every rollback use, on every ending."""
    from chaoslib.configuration import load_configuration

    resolved = load_configuration(copy.deepcopy(experiment.get("configuration") or {}))
    return {**resolved, runs.RUN_KEY: key, "obstack_host": host}


class NoRollbackSignalsRunner(Runner):
    """Chaos Toolkit's ``Runner`` without its own signal handlers.

    ``Runner.run`` puts in SIGTERM and SIGUSR handlers of its own for the experiment's length;
    inside a Locust run the suite's own must stay, since they finalise the run's record
    (``obstack_load.run.endings``), and this plugin runs the rollbacks itself on a cut-short run.
    """

    def run(self, experiment, settings=None, experiment_vars=None, journal=None):
        self.configure(experiment, settings, experiment_vars)
        return self._run(self.strategy, self.schedule, experiment, journal, self.config,
                         self.secrets, self.settings, self.event_registry)  # fmt: skip


class AttachedExperiment:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.greenlet: gevent.Greenlet | None = None
        self.settings: experiment.ChaosSettings | None = None
        self.run_state: live.LiveRun | None = None
        self.configuration: dict[str, Any] = {}
        self.specs: list[dict[str, Any]] = []  # the moded probes, as the file has them
        self.probes: list[ModeProbe] = []  # and what each recorded, in the same order
        self.points: datacheck.MarkedPoints | None = None
        self.journal: dict[str, Any] = {}
        self.verdict: Verdict | None = None
        self.helpers: list[gevent.Greenlet] = []  # the probes' watch and the points' sender
        self.monitor: Monitor | None = None  # the run's, which this experiment reads
        self.rollback_failures: list[str] = []  # each names the fault it left in place

    def start(self, environment) -> None:
        self.reset()
        self.settings = experiment.load(environment.parsed_options.chaos_experiment)
        self.monitor = monitor = monitor_of(environment)
        if monitor.greenlet is None:  # a start from the web UI's form
            environment.parsed_options.monitor = True
            monitor.start(environment)
        key = uuid.uuid4().hex
        self.run_state = live.LiveRun(key, environment, self.settings, monitor)
        self.configuration = resolved_configuration(self.settings.experiment, key, environment.host)
        self.specs = self.settings.mode_probes()
        self.probes = [ModeProbe(p["name"], p["mode"]) for p in self.specs]
        runs.register(self.run_state)
        self.run_state.start_snapshots()
        self.greenlet = watch(run_of(environment), "chaos experiment",
                              gevent.spawn(self.run, environment))  # fmt: skip

    # -- the experiment -----------------------------------------------------------------------

    def run(self, environment) -> None:
        from obstack_load.core.tenants import population

        settings = self.settings
        assert settings is not None and self.run_state is not None
        helpers = self.helpers
        if settings.verify_data:  # from the start: what was accepted before a fault counts too
            tenant = population(getattr(environment.parsed_options, "tenants_file", None))
            self.points = datacheck.MarkedPoints(environment.host, tenant.tenants[0])
            helpers.append(gevent.spawn(self.send_points))
        gevent.sleep(settings.warmup_s)
        self.await_steady_state(settings)
        self.check_probes("before")
        helpers.append(gevent.spawn(self.watch))
        logger.info("chaos experiment %r starts", settings.title)
        attached = copy.deepcopy(settings.experiment)
        # one configuration, resolved once, for the method, the probes and every rollback
        attached["configuration"] = self.configuration
        self.journal = NoRollbackSignalsRunner(None).run(attached, settings={})
        self.note_failed_rollbacks(self.journal.get("rollbacks") or [])
        gevent.killall(helpers, block=False)
        self.check_probes("after")
        self.verdict = self.decide(interrupted=False)
        logger.info(self.verdict.words())
        self.finish(environment)

    def await_steady_state(self, settings: experiment.ChaosSettings) -> None:
        """Give the load up to another warm-up to reach its steady state, so that one slow
        second on a busy machine does not void the experiment; Chaos Toolkit then checks it
        (and the experiment fails there if it never came)."""
        deadline = time.monotonic() + settings.warmup_s
        while time.monotonic() < deadline:
            holds, failing = hypothesis_holds(settings.experiment, self.configuration)
            if holds:
                return
            logger.info("waiting for the steady state before the fault: %s", failing)
            gevent.sleep(1.0)

    def finish(self, environment) -> None:
        self.detach()
        runner = environment.runner
        if runner is not None:
            # the run ends with the experiment; from the web UI only its users stop
            (runner.stop if environment.web_ui is not None else runner.quit)()

    def detach(self) -> None:
        """Stop taking snapshots, and let no activity find this run any more."""
        if self.run_state is not None:
            self.run_state.stop()
            runs.unregister(self.run_state.key)

    def check_probes(self, *modes: str) -> None:
        from chaoslib.activity import run_activity
        from chaoslib.exceptions import ActivityFailed
        from chaoslib.hypothesis import within_tolerance

        for spec, probe in zip(self.specs, self.probes, strict=True):
            if probe.mode not in modes:
                continue
            try:
                value = run_activity(spec, self.configuration, {})
                ok = within_tolerance(spec["tolerance"], value, self.configuration, {})
                probe.record(bool(ok), f"{value!r}")
            except ActivityFailed as exc:
                probe.record(False, str(exc))

    def watch(self) -> None:
        """Every second: the continuous probes, and the allowance while a fault is on."""
        assert self.run_state is not None
        while True:
            # the allowance from the fault's second second: a window needs a second of requests
            on = self.run_state.on_for() >= 2 * live.SNAPSHOT_EVERY_S
            self.check_probes("continuous", *(("during",) if on else ()))
            gevent.sleep(1.0)

    def send_points(self) -> None:
        while self.points is not None:
            gevent.spawn(self.points.send)  # side by side: a refused one may take its timeout
            gevent.sleep(SEND_EVERY_S)

    def decide(self, interrupted: bool) -> Verdict:
        settings, state = self.settings, self.run_state
        assert settings is not None and state is not None
        not_recovered = ""
        if state.recovered_at is None:
            holds, not_recovered = hypothesis_holds(settings.experiment, self.configuration)
            not_recovered = "" if holds else not_recovered
        data = DataCheck()
        if self.points is not None:
            gevent.sleep(1.0)  # the last points' answers
            data = self.points.read_back()
        return decide(
            journal=self.journal, probes=self.probes, monitor=self.monitor.result(),
            fault_on=state.first_on(), fault_off=state.last_off(),
            recovered_at=state.recovered_at, budget_s=settings.recovery_budget_s,
            not_recovered=not_recovered, endpoints=state.endpoint_recovery(),
            data=data, verify_data=settings.verify_data, max_data_lost=settings.max_data_lost,
            interrupted=interrupted,
        )  # fmt: skip

    def cut_short(self) -> None:
        """The run ended first: stop the experiment, run its rollbacks, judge what there is."""
        from chaoslib.activity import run_activity

        if self.greenlet is None or self.greenlet.dead or self.settings is None:
            return
        self.greenlet.kill(block=True, timeout=10)
        gevent.killall(self.helpers, block=False)
        runs_of_rollbacks = []
        for activity in self.settings.experiment.get("rollbacks", []):
            try:
                run_activity(activity, self.configuration, {})
                runs_of_rollbacks.append({"activity": activity, "status": "succeeded"})
            except Exception as exc:  # every rollback is tried, whatever the others do
                runs_of_rollbacks.append({"activity": activity, "status": "failed",
                                          "exception": [f"{type(exc).__name__}: {exc}"]})  # fmt: skip
        self.note_failed_rollbacks(runs_of_rollbacks)
        self.verdict = self.decide(interrupted=True)
        self.detach()

    def note_failed_rollbacks(self, journal_rollbacks: list[dict[str, Any]]) -> None:
        """A rollback that failed leaves its fault in place: said at once, loudly, with what is
        left, and kept for the run's ending (status ``fault-left``, exit code 9)."""
        assert self.run_state is not None
        left = ", ".join(sorted(self.run_state.active())) or "the faults it was to undo"
        for entry in journal_rollbacks:
            if entry.get("status") == "succeeded":
                continue
            name = entry.get("activity", {}).get("name", "a rollback")
            why = " ".join(str(e).strip() for e in entry.get("exception") or [])[:300]
            line = f"chaos rollback {name!r} failed ({why or entry.get('status')}); left in place: {left}"
            logger.error("obstack-load: %s", line)
            self.rollback_failures.append(line)

    def result(self) -> dict[str, Any] | None:
        if self.verdict is None or self.settings is None:
            return None
        return {"title": self.settings.title, "source": self.settings.source,
                **self.verdict.as_dict(), "words": self.verdict.words()}  # fmt: skip


def enabled(environment) -> bool:
    options = environment.parsed_options
    return bool(options is not None and getattr(options, "chaos_experiment", ""))


def attached_to(environment) -> AttachedExperiment:
    """The experiment attached to this run (one per run, in its ``RunContext``)."""
    return run_of(environment).slot(AttachedExperiment)


@join("start")
def start(environment, run: RunContext) -> None:
    if enabled(environment) and not isinstance(environment.runner, WorkerRunner):
        run.slot(AttachedExperiment).start(environment)


@join("stop")
def stop(environment, run: RunContext) -> None:
    """A run that ends first cuts the experiment short: its rollbacks run, with the load."""
    attached = run.get(AttachedExperiment)
    if attached is not None:
        attached.cut_short()  # nothing to do for an experiment that never started


@join("judge")
def judge(environment, run: RunContext) -> None:
    attached = run.get(AttachedExperiment)
    if attached is None:
        return
    if attached.verdict is not None:
        run.ending.chaos_verdict = "passed" if attached.verdict.passed else "failed"
    run.ending.faults_left = list(attached.rollback_failures)


@suite.summary_assembling.add_listener
def _summary(environment, summary: dict, lines: list[str], **kwargs: Any) -> None:
    result = attached_to(environment).result() if enabled(environment) else None
    if result is None:
        return
    summary["chaos"] = result
    lines.append(f"  chaos experiment: {result['title']} ({result['source']})")
    lines.append(f"  {result['words']}")
    for name, seconds in {**result["probe_recovery_s"], **result["endpoint_recovery_s"]}.items():
        text = "did not recover" if seconds is None else f"{seconds:.1f} s"
        lines.append(f"    recovery {name}: {text}")


@suite.rows_recording.add_listener
def _rows(environment, run_id: str, rows: dict, **kwargs: Any) -> None:
    result = attached_to(environment).result() if enabled(environment) else None
    if result is None:
        return
    data = result["data"]
    detail = {k: result[k] for k in ("probe_recovery_s", "endpoint_recovery_s", "checks",
                                      "fault_on_at", "fault_off_at", "data")}  # fmt: skip
    rows[CHAOS_RESULTS] = [(
        run_id, result["title"], result["source"], result["passed"], result["reason"],
        result["recovery_s"], data["accepted"], data["found"], data["lost"], result["score"],
        detail,
    )]  # fmt: skip

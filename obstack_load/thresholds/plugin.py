"""The thresholds plugin: SLO gates for ``locust --config``, k6-style.

Options: ``--threshold EXPR`` (repeatable), ``--thresholds-file FILE`` (a YAML list, usually named
by the profile), ``--threshold-abort-on-fail`` with ``--threshold-abort-delay`` and
``--threshold-check-interval``. Thresholds are checked before any load (a bad one is a one-line
error, exit 2), optionally during the run, and at the end, on the master or standalone process.

Exit codes when thresholds are given: 0 all passed (warnings included), 3 a threshold failed (or
warned, with ``--threshold-fail-on-warning``), 4 the run was aborted by a failing threshold.
Without thresholds Locust's own rule applies (1 when any request failed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from obstack_load.core.config import ConfigError, load_yaml
from obstack_load.core.outcome import EXIT_ABORTED, EXIT_THRESHOLD_FAILED
from obstack_load.run.context import RunContext, run_of
from obstack_load.run.endings import join
from obstack_load.run.events import suite
from obstack_load.run.options import add_option, validator
from obstack_load.thresholds.evaluate import Verdict, evaluate, format_table
from obstack_load.thresholds.expressions import FIGURES, Threshold, ThresholdError, parse

logger = logging.getLogger("obstack_load.thresholds")
EXIT_BREACH = EXIT_THRESHOLD_FAILED  # the exit codes are outcome.py's, in one table


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:
    add_option(
        parser,
        "--threshold",
        "SLO gate such as 'p(95)<500', 'rate<0.01', 'p(99){name=/api/v1/login}<800'; repeatable",
        env="OBSTACK_THRESHOLDS",
        action="append",
        default=None,  # not []: Locust's web UI would take an empty list for a list of ints
    )
    add_option(parser, "--thresholds-file", "YAML file with a 'thresholds:' list of expressions")
    add_option(
        parser,
        "--threshold-abort-on-fail",
        action="store_true",
        default=False,
        help="check thresholds during the run and stop it at the first failure (exit code 4)",
    )
    add_option(
        parser,
        "--threshold-fail-on-warning",
        action="store_true",
        default=False,
        help="a threshold past its warning bound ('p(95)<1000 warn<500') fails the build too",
    )
    add_option(
        parser,
        "--threshold-abort-delay",
        type=float,
        default=10.0,
        help="seconds before checks during the run start (default 10)",
    )
    add_option(
        parser,
        "--threshold-check-interval",
        type=float,
        default=2.0,
        help="seconds between checks during the run (default 2)",
    )


def load_thresholds(options: Any) -> list[Threshold]:
    """Every threshold from the command line and the thresholds file; errors name their source."""
    thresholds = []
    given = options.threshold
    if isinstance(given, str):  # the web UI's form: one expression per line, or ';' between them
        given = [e for e in given.replace(";", "\n").splitlines() if e.strip()]
    for expression in given or []:
        try:
            thresholds.append(parse(expression))
        except ThresholdError as exc:
            raise ConfigError("--threshold", "", str(exc)) from None
    path = options.thresholds_file
    if path:
        data = load_yaml(path)
        items = data.get("thresholds")
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ConfigError(path, "thresholds", "must be a list of expressions")
        for index, expression in enumerate(items):
            try:
                thresholds.append(parse(expression))
            except ThresholdError as exc:
                raise ConfigError(path, f"thresholds[{index}]", str(exc)) from None
    return thresholds


class Gate:
    def __init__(self, environment: Environment, thresholds: list[Threshold]) -> None:
        self.environment = environment
        self.thresholds = thresholds
        self.aborted_by: list[Verdict] = []
        self.final: list[Verdict] = []
        self.verdict = "not evaluated"
        self.watcher: gevent.Greenlet | None = None

    def check(self) -> list[Verdict]:
        figures: dict = {}
        if any(t.metric in FIGURES for t in self.thresholds):
            suite.figures_collecting.fire(environment=self.environment, figures=figures)
        ledger = run_of(self.environment).ledger
        return evaluate(self.thresholds, self.environment.stats, ledger, figures)

    def watch(self) -> None:
        options = self.environment.parsed_options
        gevent.sleep(options.threshold_abort_delay)
        while True:
            failed = [v for v in self.check() if not v.passed]
            if failed:
                self.aborted_by = failed
                names = ", ".join(v.threshold.expression for v in failed)
                logger.error("obstack-load: aborting the run: threshold(s) failed: %s", names)
                runner = self.environment.runner
                if runner is not None:
                    if options.headless:
                        runner.quit()
                    else:
                        runner.stop()
                return
            gevent.sleep(options.threshold_check_interval)

    def start_watching(self) -> None:
        self.aborted_by = []
        if self.environment.parsed_options.threshold_abort_on_fail and self.thresholds:
            if self.watcher is not None:
                self.watcher.kill(block=False)
            self.watcher = gevent.spawn(self.watch)

    def finish(self) -> int:
        """Final evaluation: print the table, store it, and return the exit code."""
        if self.watcher is not None:
            self.watcher.kill(block=False)
        self.final = self.check()
        print(format_table(self.final), flush=True)
        if self.aborted_by:
            print(
                "  run ABORTED by: " + ", ".join(v.threshold.expression for v in self.aborted_by),
                flush=True,
            )
        warned = any(v.warned for v in self.final)
        passed = all(v.passed for v in self.final) and not self.aborted_by
        if passed and warned and self.environment.parsed_options.threshold_fail_on_warning:
            passed = False
            print("  a warning fails the build (--threshold-fail-on-warning)", flush=True)
        if self.aborted_by:
            self.verdict = "aborted"
        elif not all(v.passed for v in self.final):
            self.verdict = "failed"
        else:
            self.verdict = "warning" if warned else "passed"
        exit_code = 0 if passed else EXIT_ABORTED if self.aborted_by else EXIT_BREACH
        suite.thresholds_evaluated.fire(
            environment=self.environment,
            verdict=self.verdict,
            verdicts=self.final,
            exit_code=exit_code,
        )
        return exit_code

    def summary(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "results": [v.as_dict() for v in self.final],
            "aborted_by": [v.threshold.expression for v in self.aborted_by],
        }


def summary_lines(section: dict[str, Any]) -> list[str]:
    passed = sum(r["passed"] for r in section["results"])
    warned = [r["expression"] for r in section["results"] if r["level"] == "warn"]
    warnings = f"; warning: {', '.join(warned)}" if warned else ""
    return [
        f"  thresholds {section['verdict'].upper()}: {passed}/{len(section['results'])} passed"
        + warnings
    ]


@dataclass
class Gates:
    """A run's thresholds (in its ``RunContext``): none when the run has no thresholds."""

    gate: Gate | None = None


@validator
def _check(options: Any) -> None:
    """A bad threshold or thresholds file is one line before any load (and in the web UI)."""
    load_thresholds(options)


@join("start")
def start(environment: Environment, run: RunContext) -> None:
    """Thresholds are read at every start, so a start from the web UI uses its form's."""
    if isinstance(environment.runner, WorkerRunner):
        return
    try:
        thresholds = load_thresholds(environment.parsed_options)
        if thresholds:
            gate = run.slot(Gates).gate = Gate(environment, thresholds)
            gate.start_watching()
    except Exception:
        logger.exception("obstack-load: could not start threshold checks")


@join("judge")
def judge(environment: Environment, run: RunContext) -> None:
    gate = run.slot(Gates).gate
    if gate is None:
        return
    try:
        run.ending.thresholds_exit_code = gate.finish()
    except Exception:
        logger.exception("obstack-load: threshold evaluation failed")
        run.ending.thresholds_exit_code = EXIT_BREACH  # a gate that cannot decide must not pass
        gate.verdict = "failed"
    run.ending.thresholds_verdict = gate.verdict


@suite.summary_assembling.add_listener
def _summary(environment: Environment, summary: dict, lines: list[str], **kwargs: Any) -> None:
    gate = run_of(environment).slot(Gates).gate
    if gate is not None:
        summary["thresholds"] = gate.summary()
        lines.extend(summary_lines(summary["thresholds"]))


__all__ = ["EXIT_ABORTED", "EXIT_BREACH", "load_thresholds"]

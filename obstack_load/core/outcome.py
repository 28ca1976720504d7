"""How a run ended: its status and exit code, decided from what the run's phases reported.

=====================  =========  ===================================================
status                 exit code  when
=====================  =========  ===================================================
``finished``           0, 1, 3    it ran to its end (1: no thresholds were given and requests
                                  failed; 3: a threshold failed, see ``thresholds_verdict``;
                                  8: an attached chaos experiment failed)
``aborted``            4          a failing threshold stopped it (``--threshold-abort-on-fail``)
``degraded``           6          a worker was lost, so the load was lower than asked
``interrupted``        130        SIGINT (Ctrl-C), SIGTERM or SIGHUP stopped it
``plugin-failed``      10         a plugin (the capacity search, the monitor, the chaos runner,
                                  ...) failed: what it measures is missing, and the summary
                                  says "<plugin> failed: <one line>"
``results-incomplete`` 5          rows could not be stored (spooled to a file, or dropped)
``fault-left``         9          a chaos experiment's rollback failed: a fault it injected is
                                  still in place (the summary's first line of trouble names it)
=====================  =========  ===================================================

A run a person ends with the web UI's Stop is ``finished`` too (that is how a web UI run ends),
and its record says so: ``stopped_by_user``, kept in the run's notes as ``ended_by``.

When several apply, the later rows of the table win: an interrupted run whose rows could not
be stored is ``results-incomplete``, since that is what a reader of the record must know first.
Bad input (exit code 2) never starts a run.

Plain data: no Locust. ``endings`` runs the phases that fill an ``Ending`` in and decide it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

EXIT_THRESHOLD_FAILED = 3
EXIT_ABORTED = 4
EXIT_RESULTS_INCOMPLETE = 5
EXIT_DEGRADED = 6
EXIT_CHAOS_FAILED = 8  # a chaos experiment's verdict failed (7 is `obstack-load capacity`'s)
EXIT_FAULT_LEFT = 9  # a rollback failed: the run left a fault in the target's path
EXIT_PLUGIN_FAILED = 10  # a plugin failed: its figures or verdict are missing
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report an interrupted command


class EndingDecided(RuntimeError):
    """A fact about the ending arrived after it was decided without going through ``revise``."""


@dataclass
class Ending:
    """What the run's phases learnt about how it ends, and what was decided from it.

    Once ``decide`` has run the outcome is frozen: a late failure (the final write of the run's
    row, say) must go back through ``revise``, which decides again, so that no listener can
    change the status behind the others' backs."""

    signal: str | None = None  # SIGTERM, SIGINT or SIGHUP, when one interrupted the run
    stopped_by_user: bool = False  # the web UI's Stop
    thresholds_verdict: str | None = None  # passed, warning, failed or aborted
    thresholds_exit_code: int | None = None  # 0, 3 or 4 when thresholds were given
    chaos_verdict: str | None = None  # passed or failed, when a chaos experiment was attached
    plugin_failures: list[str] = field(default_factory=list)  # "<plugin> failed: <one line>"
    missing_workers: list[str] = field(default_factory=list)
    rows_not_stored: int = 0  # spooled to a file or dropped: not in the results database
    faults_left: list[str] = field(default_factory=list)  # a failed rollback, and what it left
    base_exit_code: int = 0  # what Locust itself would return
    status: str | None = None
    exit_code: int | None = None
    decided: bool = False

    def __setattr__(self, name: str, value) -> None:
        if getattr(self, "decided", False) and name != "decided":
            raise EndingDecided(f"the ending is decided; revise({name}=...) to change it")
        super().__setattr__(name, value)

    def decide(self, base_exit_code: int | None = None) -> tuple[str, int]:
        """The status and exit code; ``base_exit_code`` is what Locust and the thresholds set."""
        if base_exit_code is not None:
            self.base_exit_code = base_exit_code
        status, code = "finished", self.base_exit_code
        if self.thresholds_exit_code is not None:  # thresholds replace Locust's failure rule
            code = self.thresholds_exit_code
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
        if self.plugin_failures:
            status, code = "plugin-failed", EXIT_PLUGIN_FAILED
        if self.rows_not_stored:
            status, code = "results-incomplete", EXIT_RESULTS_INCOMPLETE
        if self.faults_left:
            status, code = "fault-left", EXIT_FAULT_LEFT
        if self.base_exit_code == 2:  # an unhandled error inside Locust: keep Locust's word
            code = 2
        self.status, self.exit_code = status, code
        self.decided = True
        return status, code

    def revise(self, **facts) -> tuple[str, int]:
        """A fact learnt after the decision (``rows_not_stored=12``): decide again with it."""
        super().__setattr__("decided", False)
        for name, value in facts.items():
            if name not in {f.name for f in fields(self)}:
                raise TypeError(f"an Ending has no {name!r}")
            setattr(self, name, value)
        return self.decide()

"""One run's state, kept on Locust's Environment, as Locust keeps its own on the Environment
and the Runner.

A plugin reaches the run it serves through the environment it is handed::

    run = run_of(environment)
    run.ending.rows_not_stored += 3
    monitor = run.slot(Monitor)       # this run's Monitor, made on first use

The Environment lives as long as the process. A new ``RunContext`` replaces the last one at
every start (``begin``), so a web UI process that runs several tests keeps each run's ending,
ledger, arrival counts and plugin state apart, and a run's figures never leak into the next.

Plain data: no Locust, no gevent. ``endings`` begins and ends runs; this module only holds them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

from obstack_load.core.ledger import IngestLedger
from obstack_load.core.outcome import Ending

ATTRIBUTE = "obstack_run"  # the Environment's attribute that holds the current RunContext
State = TypeVar("State")


@dataclass
class RunContext:
    """Everything one run holds, from its start to its recorded end."""

    ending: Ending = field(default_factory=Ending)
    ledger: IngestLedger = field(default_factory=IngestLedger)
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None
    stop_requested_at: float | None = None  # monotonic: when its users were told to stop
    last_report: dict[str, float] = field(default_factory=dict)  # worker id -> monotonic time
    final_reports: set[str] = field(default_factory=set)  # workers whose users had stopped
    final_report_due: bool = False  # a worker's: its next report is its final one
    summary_printed: bool = False
    slots: dict[type, Any] = field(default_factory=dict)

    def slot(self, kind: type[State]) -> State:
        """This run's instance of a plugin's state class (made with no arguments on first use).

        Keyed by the class itself, so two plugins can never collide on a name, and a type
        checker knows what comes back."""
        found = self.slots.get(kind)
        if found is None:
            found = self.slots[kind] = kind()
        return found

    def get(self, kind: type[State]) -> State | None:
        """This run's instance of ``kind`` if a plugin made one, else None (for the end of a
        run, which must not make state a plugin never used)."""
        return self.slots.get(kind)

    @property
    def ended(self) -> bool:
        return self.ended_at is not None


def run_of(environment: Any) -> RunContext:
    """The environment's current run (an empty one before the first start, so that listeners
    fired early, such as a worker's first report, always find one)."""
    run = getattr(environment, ATTRIBUTE, None)
    if run is None:
        run = RunContext()
        setattr(environment, ATTRIBUTE, run)
    return run


def begin(environment: Any) -> RunContext:
    """A fresh run on ``environment``; the signal that may already have cut it short is kept."""
    previous = getattr(environment, ATTRIBUTE, None)
    run = RunContext()
    if previous is not None and not previous.ended:
        run.ending.signal = previous.ending.signal
    setattr(environment, ATTRIBUTE, run)
    return run

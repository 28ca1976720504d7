"""The experiments running in this process, by the key their activities are given.

Chaos Toolkit calls our activities by module and function name, with the experiment's
``configuration`` as their only context, so an activity finds the run it belongs to here, by
the key the plugin puts into that configuration (``obstack_run``): a registry is the one seam
Chaos Toolkit leaves. It imports nothing of Locust, so the activities load in Chaos Toolkit's own
``chaos run`` too, where no run is attached.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from obstack_load.chaos.live import LiveRun

RUN_KEY = "obstack_run"

_runs: dict[str, LiveRun] = {}


def register(run: LiveRun) -> None:
    _runs[run.key] = run


def unregister(key: str) -> None:
    _runs.pop(key, None)


def note_fault(configuration: dict[str, Any] | None, fault: str, on: bool) -> None:
    """A fault put on or taken off, for the run the activity belongs to, else (under Chaos
    Toolkit's own ``chaos run``) for ``unattached``."""
    run = of(configuration)
    if run is not None:
        run.fault(fault, on)
    else:
        unattached.fault(fault, on)


def of(configuration: dict[str, Any] | None) -> LiveRun | None:
    """The run an activity belongs to, or None under Chaos Toolkit's own ``chaos run``."""
    return _runs.get((configuration or {}).get(RUN_KEY, ""))


# -- under Chaos Toolkit's own ``chaos run``: no run attached ---------------------------------
# The actions' fault changes (for the load probes' windows) and the experiment the control
# was given (for wait_for_recovery's whole hypothesis), for the one experiment this process runs.


class Unattached:
    def __init__(self) -> None:
        self.changes: list[tuple[float, str, bool]] = []  # (unix time, fault, on)
        self.experiment: dict[str, Any] | None = None
        self.recovery_budget_s: float | None = None

    def fault(self, fault: str, on: bool) -> None:
        self.changes.append((time.time(), fault, on))

    def last_change(self) -> float:
        return max((at for at, _, _ in self.changes), default=0.0)

    def last_off(self) -> float | None:
        on: set[str] = set()
        for _, fault, is_on in self.changes:
            (on.add if is_on else on.discard)(fault)
        if on:
            return None
        return max((at for at, _, is_on in self.changes if not is_on), default=None)


unattached = Unattached()

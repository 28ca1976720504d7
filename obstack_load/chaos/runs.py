"""The experiments running in this process, by the key their activities are given.

Chaos Toolkit calls our activities by module and function name, with the experiment's
``configuration`` as their only context, so an activity finds the run it belongs to here, by
the key the plugin puts into that configuration (``obstack_run``): a registry is the one seam
Chaos Toolkit leaves. It imports nothing of Locust, so the activities load in Chaos Toolkit's own
``chaos run`` too, where no run is attached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from obstack_load.chaos.live import LiveRun

RUN_KEY = "obstack_run"

_runs: dict[str, LiveRun] = {}


def register(run: LiveRun) -> None:
    _runs[run.key] = run


def unregister(key: str) -> None:
    _runs.pop(key, None)


def of(configuration: dict[str, Any] | None) -> LiveRun | None:
    """The run an activity belongs to, or None under Chaos Toolkit's own ``chaos run``."""
    return _runs.get((configuration or {}).get(RUN_KEY, ""))

"""Run the suite as N processes at once: ``pytest -p tests.shard --shard K/N``.

Why not pytest-xdist: its workers talk over execnet threads, and the suite patches the process
for gevent before any test imports (tests/__init__.py, as Locust itself does); execnet's
channel then never comes up. Most end-to-end tests wait on the clock, not the CPU, so whole
processes side by side (scripts/test.sh starts them) give the same gain.

Tests marked ``alone`` (capacity searches: they measure what the machine can do) are in no
shard; scripts/test.sh runs them after the shards, one process on a quiet machine.

Modules stay whole (their fixtures start platforms, databases and load runs once per module).
They are dealt to the shards heaviest first, by the seconds in tests/durations.json, each to the
lightest shard so far. Every shard writes the seconds its modules took to
``results/test-durations-K.json``; merge them into tests/durations.json when the suite changes
much (an unknown module counts as 10 s).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

DURATIONS = Path(__file__).with_name("durations.json")
UNKNOWN_S = 10.0


def pytest_addoption(parser) -> None:
    parser.addoption("--shard", metavar="K/N", help="run the K-th (from 1) of N shards")


def _shard(config) -> tuple[int, int] | None:
    value = config.getoption("--shard")
    if not value:
        return None
    k, _, n = value.partition("/")
    if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise pytest.UsageError(f"--shard: expected K/N with 1 <= K <= N, got {value!r}")
    return int(k), int(n)


def deal(modules: list[str], seconds: dict[str, float], shards: int) -> list[list[str]]:
    bins: list[list[str]] = [[] for _ in range(shards)]
    loads = [0.0] * shards
    for module in sorted(modules, key=lambda m: (-seconds.get(m, UNKNOWN_S), m)):
        lightest = loads.index(min(loads))
        bins[lightest].append(module)
        loads[lightest] += seconds.get(module, UNKNOWN_S)
    return bins


def pytest_collection_modifyitems(config, items) -> None:
    shard = _shard(config)
    if shard is None:
        return
    k, n = shard
    seconds = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    # tests marked ``alone`` are in no shard: they need the machine to themselves
    shared = [item for item in items if item.get_closest_marker("alone") is None]
    modules = sorted({item.nodeid.split("::")[0] for item in shared})
    mine = set(deal(modules, seconds, n)[k - 1])
    keep = [item for item in shared if item.nodeid.split("::")[0] in mine]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep


_taken: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report) -> None:
    _taken[report.nodeid.split("::")[0]] += report.duration


def pytest_sessionfinish(session) -> None:
    shard = _shard(session.config)
    if shard is None or not _taken:
        return
    out = Path(session.config.rootpath) / "results" / f"test-durations-{shard[0]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({m: round(s, 1) for m, s in sorted(_taken.items())}, indent=1))

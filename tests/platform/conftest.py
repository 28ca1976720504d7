"""The platform's own tests run twice: on the in-memory store and on PostgreSQL (``--db``)."""

from __future__ import annotations

import itertools

import pytest

from tests.support import RunningPlatform, start_platform

_databases = itertools.count(1)


@pytest.fixture(scope="module", params=["memory", "postgresql"])
def platform(request) -> RunningPlatform:
    args: tuple[str, ...] = ()
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres")
        args = ("--db", server.database(f"platform_{next(_databases)}"))
    running = start_platform(*args)
    yield running
    assert running.stop() == 0, "".join(running.output)

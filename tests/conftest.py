"""Shared fixtures. (gevent is patched in tests/__init__.py, before anything else loads.)"""

from __future__ import annotations

import pytest

from obstack_load.core.tenants import Population
from tests.support import RunningPlatform, population, start_platform


@pytest.fixture(scope="session")
def tenants() -> Population:
    return population()


@pytest.fixture(scope="module")
def platform() -> RunningPlatform:
    running = start_platform()
    yield running
    assert running.stop() == 0, "".join(running.output)


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session (initdb + pg_ctl; see tests/postgres.py)."""
    from tests.postgres import available, start_postgres

    if not available():
        pytest.fail(
            "PostgreSQL server binaries (initdb, pg_ctl) are needed: apt-get install postgresql"
        )
    server = start_postgres()
    yield server
    server.stop("immediate")

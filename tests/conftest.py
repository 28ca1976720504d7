from __future__ import annotations

import pytest

from obstack_load.tenants import Population
from tests.support import RunningPlatform, population, start_platform


@pytest.fixture(scope="session")
def tenants() -> Population:
    return population()


@pytest.fixture(scope="module")
def platform() -> RunningPlatform:
    running = start_platform()
    yield running
    assert running.stop() == 0, "".join(running.output)

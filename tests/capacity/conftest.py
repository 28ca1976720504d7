"""The platform of known capacity the capacity searches run against, one per test module."""

from __future__ import annotations

import pytest

from tests.support import start_platform


@pytest.fixture(scope="module")
def capped():
    running = start_platform("--test-capacity-slots", "4", "--test-service-ms", "20")
    yield running
    assert running.stop() == 0, "".join(running.output)

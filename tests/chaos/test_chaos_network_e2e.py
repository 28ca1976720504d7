"""Each ready experiment that faults the network and ingestion passes on a platform that recovers
(tests/chaos/rig.py says how it is run, and what is asserted)."""

from __future__ import annotations

import pytest

from tests.chaos.rig import passes_and_recovers


@pytest.mark.parametrize("experiment", ["network-partition", "slow-link", "ingestion-503-storm"])
def test_a_ready_experiment_passes_on_a_platform_that_recovers(postgres, tmp_path, experiment):
    passes_and_recovers(postgres, tmp_path, experiment)

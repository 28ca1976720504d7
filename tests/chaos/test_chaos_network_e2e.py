"""The ready experiments that fault the network and ingestion, run as a user runs it (``obstack-load chaos run``) against real processes: the
platform on its own PostgreSQL (started by the tests), supervised by ``obstack-load supervise``,
behind the fault proxy on both sides, and Locust (tests/chaos/rig.py). Each must pass, print its verdict, recovery time and data lost, and store them.
Only correctness is asserted, never timings: the verdict, that no accepted point was lost, and
that a recovery is never measured before it can have happened. How close the measure comes to
the truth is a benchmark (benchmarks/chaos_recovery.py). The experiments are split over three
modules so that the test shards run them side by side."""

from __future__ import annotations

import pytest

from tests.chaos.rig import passes_and_recovers


@pytest.mark.parametrize("experiment", ["network-partition", "slow-link", "ingestion-503-storm"])
def test_a_ready_experiment_passes_on_a_platform_that_recovers(postgres, tmp_path, experiment):
    passes_and_recovers(postgres, tmp_path, experiment)

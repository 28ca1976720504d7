"""Chaos Toolkit's own ``chaos run`` on the network and ingestion files (the rest of
test_chaostoolkit_run.py's six, in a module of their own so that the test shards share them)."""

from __future__ import annotations

import pytest

from tests.chaos.rig import CHAOS_TIMEOUT_S
from tests.chaos.test_chaostoolkit_run import HERE, READY, agrees_with_the_suite


@pytest.mark.timeout(CHAOS_TIMEOUT_S + 120)
@pytest.mark.parametrize("experiment", [name for name in READY if name not in HERE])
def test_chaos_toolkits_own_chaos_run_agrees_with_the_suite(postgres, tmp_path, experiment):
    agrees_with_the_suite(postgres, tmp_path, experiment)

"""More capacity searches against the platform of known capacity (4 slots of 20 ms: 200/s): a
starved generator is named as the limit with no capacity claimed, and two targets' capacities
give their scaling ratio. A module of its own so that the test shards run it beside
tests/capacity/test_capacity_e2e.py."""

from __future__ import annotations

import pytest

from tests.capacity.test_capacity_e2e import search, stored
from tests.support import start_platform

# searches measure capacities: beside three other test shards on two cores they found half of
# a known one (CI); scripts/test.sh runs them after the shards, one at a time
pytestmark = pytest.mark.alone


@pytest.mark.timeout(900)
def test_a_starved_generator_is_named_and_no_capacity_is_claimed(capped, tmp_path):
    # one user, each request 20 ms: it cannot offer more than about 50/s, far below 200
    done, paths = search(capped, tmp_path, "--users", "1", "--capacity-start", "20")
    assert done.returncode == 7, done.stdout[-3000:] + done.stderr[-3000:]
    assert "The generator was the limit" in done.stdout and "Add workers" in done.stdout
    steps, (capacity, limit, generator_bound, _) = stored(paths["db"])
    assert capacity is None and limit == "generator" and generator_bound == 1


@pytest.mark.timeout(900)
def test_compare_scaling_reports_the_ratio_of_two_known_capacities(capped, tmp_path):
    # twice the slots, twice the capacity: 400/s against 200/s
    doubled = start_platform("--test-capacity-slots", "8", "--test-service-ms", "20")
    try:
        done, _ = search(
            capped, tmp_path, "--capacity-max", "1600", "--compare-scaling", doubled.url
        )
    finally:
        assert doubled.stop() == 0, "".join(doubled.output)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("scaling: "))
    ratio = float(line.split(" holds ")[1].split("x")[0])
    assert 1.8 <= ratio <= 2.2, line

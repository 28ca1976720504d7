"""Change points where they are, and none where there are none."""

from __future__ import annotations

import numpy as np

from obstack_load.analysis.changepoints import change_points
from obstack_load.core import histogram


def noisy(seed: int, n: int = 30, level: float = 100.0, noise: float = 0.05) -> np.ndarray:
    return level * (1 + noise * np.random.default_rng(seed).standard_normal(n))


def test_a_twenty_percent_step_at_run_20_is_found_there():
    series = noisy(1)
    series[20:] *= 1.2
    points = change_points(series)
    assert [p.index for p in points] == [20]
    assert 0.15 < points[0].magnitude < 0.25 and points[0].p_value < 0.001


def test_flat_noisy_series_almost_never_have_a_change_point():
    # 500 seeded series of 30 runs with 5% noise: 4 get a (false) change point, measured; the
    # docs claim under 1% (docs/regressions.md)
    flagged = [s for s in range(500) if change_points(noisy(s))]
    assert len(flagged) <= 5, flagged


def test_two_steps_are_both_found():
    series = noisy(2, 60)
    series[20:] *= 1.3
    series[40:] /= 1.3
    assert [p.index for p in change_points(series)] == [20, 40]


def test_rounded_values_do_not_look_noiseless():
    # Locust's percentiles are bucketed: three runs at 140 ms then three at 150 ms is one step
    # of rounding, not a certain change, though the raw t-test sees no noise at all
    rounded = [140.0] * 3 + [150.0] * 3
    assert change_points(rounded)[0].p_value < 1e-9
    assert change_points(rounded, resolution=histogram.bucket_width) == []
    assert change_points([140.0] * 3 + [190.0] * 3, resolution=histogram.bucket_width)


def test_short_or_constant_series_are_left_alone():
    assert change_points([]) == [] and change_points([1.0, 2.0]) == []
    assert change_points([5.0] * 30) == []

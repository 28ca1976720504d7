"""The judge on samples whose truth is known: a shift it must see, none it must invent."""

from __future__ import annotations

import numpy as np
import pytest

from obstack_load.analysis.judge import (
    BETTER,
    SAME,
    UNKNOWN,
    WORSE,
    JudgeSettings,
    judge_errors,
    judge_shift,
    shift_interval,
    without_outliers,
)


def samples(seed: int, centre: float, n: int = 30) -> np.ndarray:
    return centre * np.random.default_rng(seed).lognormal(0.0, 0.1, n)


def test_a_thirty_percent_rise_is_worse_and_a_fall_is_better():
    rise = judge_shift(samples(1, 10.0), samples(2, 13.0))
    assert rise.verdict == WORSE
    assert 0.2 < rise.low < rise.effect < rise.high < 0.45
    fall = judge_shift(samples(3, 13.0), samples(4, 10.0))
    assert fall.verdict == BETTER and fall.high < -0.1


def test_the_same_distribution_is_same_in_every_one_of_200_pairs():
    verdicts = [judge_shift(samples(s, 10.0), samples(s + 1000, 10.0)).verdict for s in range(200)]
    assert set(verdicts) == {SAME}


def test_a_real_but_small_shift_inside_the_tolerance_is_same():
    base, cand = samples(5, 10.0, 200), samples(6, 10.3, 200)  # +3%: certain, but small
    strict = judge_shift(base, cand, JudgeSettings(tolerance=0.0, min_shift_ms=0.0))
    assert strict.verdict == WORSE  # the interval clears zero...
    assert judge_shift(base, cand).verdict == SAME  # ...but not the 10% band


def test_a_shift_under_a_millisecond_is_same_however_large_relatively():
    base, cand = samples(10, 0.8), samples(11, 1.2)  # +50%, but 0.4 ms: under Locust's 1 ms
    assert judge_shift(base, cand).verdict == SAME
    assert judge_shift(base, cand, JudgeSettings(min_shift_ms=0.0)).verdict == WORSE


def test_outliers_are_fenced_off_before_judging():
    base = samples(7, 10.0)
    spiky = np.concatenate([samples(8, 10.0), [500.0, 900.0]])  # two GC pauses
    assert without_outliers(spiky, 3.0).size == spiky.size - 2
    shift = judge_shift(base, spiky)
    assert shift.verdict == SAME and shift.outliers == (0, 2)


def test_too_few_intervals_give_no_verdict():
    assert judge_shift([1.0, 2.0, 3.0], samples(9, 2.0)).verdict == UNKNOWN


def test_the_interval_is_the_textbook_hodges_lehmann_one():
    # Hollander & Wolfe's construction: order statistics of the n*m pairwise differences
    base, cand = np.arange(10.0), np.arange(10.0) + 5
    estimate, low, high = shift_interval(base, cand, 0.95)
    assert estimate == 5.0 and low < 5.0 < high
    assert (low, high) == (2.0, 8.0)  # k = floor(50 - 1.96 * sqrt(175)) = 24


@pytest.mark.parametrize(
    ("base", "cand", "verdict"),
    [
        ((0, 10_000), (0, 10_000), SAME),
        ((0, 10_000), (3, 100_000), SAME),  # significant or not, 0.003% is inside the tolerance
        ((0, 10_000), (200, 10_000), WORSE),  # 2% failing
        ((200, 10_000), (0, 10_000), BETTER),
        ((0, 0), (5, 10), UNKNOWN),
    ],
)
def test_failure_ratios(base, cand, verdict):
    assert judge_errors(base, cand).verdict == verdict

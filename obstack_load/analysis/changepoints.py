"""Change points in a run-over-run series, in the manner of Apache Otava (formerly Hunter):
split the series where it differs most, keep the split only if a Student t-test between the two
sides (each at most a window long) gives p below ``max_pvalue``, and recurse into both sides.

Where the split goes is ``ruptures``' binary segmentation (least-squares cost), a well-kept
library; whether it counts is scipy's t-test, since ruptures has no significance test. Otava
itself pins ``numpy==2.2.0`` and pulls in BigQuery and Slack clients, and MongoDB's
signal-processing-algorithms pins numpy below 2 and an old gevent, so neither is a dependency
our users should pay for. Documented in docs/regressions.md.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import ruptures
from scipy import stats


@dataclass(frozen=True)
class ChangePointSettings:
    max_pvalue: float = 0.001  # Otava's default since it stopped flagging single outliers
    window: int = 50  # Otava's: the t-test sees at most this many points each side
    min_magnitude: float = 0.05  # a shift under 5% of the level before it is not reported
    min_segment: int = 3  # points each side of a split, at least


@dataclass(frozen=True)
class ChangePoint:
    index: int  # the first point after the change
    before: float  # mean of the points before (within the window)
    after: float
    magnitude: float  # (after - before) / before: 0.2 is a 20% rise
    p_value: float

    def as_dict(self) -> dict:
        return asdict(self)


Resolution = Callable[[float], float]  # the rounding step of a value, e.g. Locust's buckets


def change_points(
    values: Sequence[float],
    settings: ChangePointSettings = ChangePointSettings(),  # noqa: B008  (frozen)
    resolution: Resolution | None = None,
) -> list[ChangePoint]:
    """``resolution`` says how coarsely the values were rounded (Locust's percentiles are
    bucketed to two significant digits): a run of identical rounded values then does not look
    like a series with no noise at all."""
    series = np.asarray(values, dtype=float)
    found: list[ChangePoint] = []
    _split(series, 0, series.size, settings, resolution, found)
    return sorted(found, key=lambda c: c.index)


def t_test(left: np.ndarray, right: np.ndarray, resolution: Resolution | None) -> float:
    """Student's two-sample t-test (scipy's), with the pooled variance no smaller than the
    rounding's own (a uniform error of one step: step**2 / 12)."""
    if resolution is None:
        with warnings.catch_warnings():  # identical values: scipy warns, and p is 0 or nan
            warnings.simplefilter("ignore", RuntimeWarning)
            p_value = float(stats.ttest_ind(left, right).pvalue)
        return 0.0 if np.isnan(p_value) else p_value
    n, m = left.size, right.size
    pooled = ((n - 1) * left.var(ddof=1) + (m - 1) * right.var(ddof=1)) / (n + m - 2)
    step = resolution(float(np.concatenate([left, right]).mean()))
    pooled = max(pooled, step**2 / 12)
    t = (right.mean() - left.mean()) / np.sqrt(pooled * (1 / n + 1 / m))
    return float(2 * stats.t.sf(abs(t), n + m - 2))


def _split(
    series: np.ndarray,
    start: int,
    end: int,
    settings: ChangePointSettings,
    resolution: Resolution | None,
    found: list,
) -> None:
    if end - start < 2 * settings.min_segment:
        return
    segment = series[start:end]
    if np.ptp(segment) == 0:
        return
    detector = ruptures.Binseg(model="l2", min_size=settings.min_segment, jump=1).fit(segment)
    index = start + detector.predict(n_bkps=1)[0]
    left = series[max(start, index - settings.window) : index]
    right = series[index : min(end, index + settings.window)]
    p_value = t_test(left, right, resolution)
    before, after = float(left.mean()), float(right.mean())
    magnitude = (after - before) / abs(before) if before else float("inf")
    if not (p_value < settings.max_pvalue and abs(magnitude) >= settings.min_magnitude):
        return
    found.append(ChangePoint(index, before, after, magnitude, p_value))
    _split(series, start, index, settings, resolution, found)
    _split(series, index, end, settings, resolution, found)

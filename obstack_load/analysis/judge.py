"""The judge of two samples, in the manner of Netflix Kayenta's: outliers out by IQR, a
Mann-Whitney confidence interval on the shift, and a verdict only when that interval clears a
tolerance band around zero.

scipy has the Mann-Whitney test but not the Hodges-Lehmann shift estimate or its
distribution-free confidence interval, so those few lines are written here (the textbook
construction: order statistics of all pairwise differences, at ranks from the U statistic's
normal approximation). Documented, with its measured false-positive rate and power, in
docs/regressions.md.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

BETTER, SAME, WORSE, UNKNOWN = "better", "same", "worse", "too few data"


@dataclass(frozen=True)
class JudgeSettings:
    confidence: float = 0.98  # Kayenta's
    tolerance: float = 0.10  # a relative shift inside +-10% is "same", however certain
    iqr_factor: float = 3.0  # Kayenta's outlier fence
    min_samples: int = 6  # fewer intervals than this in either run: no verdict
    error_tolerance: float = 0.001  # failure ratio: an absolute rise under 0.1 point is "same"
    # Locust's histograms round to 1 ms below 100 ms, and a Python generator's own scheduling
    # jitters by about as much: a shift whose interval does not clear 1 ms is "same"
    min_shift_ms: float = 1.0
    # an endpoint must also clear the tolerance after the shift all the others share is divided
    # out (compare.py). Off by default: measured, it cost a quarter of the power and saved no
    # false alarm (docs/regressions.md)
    against_the_rest: bool = False


@dataclass(frozen=True)
class Shift:
    """How the candidate differs from the baseline on one metric."""

    verdict: str
    baseline: float | None  # median of the baseline's kept samples
    candidate: float | None
    effect: float | None  # relative shift (Hodges-Lehmann / baseline median): 0.3 is +30%
    low: float | None  # the confidence interval of ``effect``
    high: float | None
    p_value: float | None
    samples: tuple[int, int]  # kept after the outlier fence
    outliers: tuple[int, int]

    def as_dict(self) -> dict:
        return asdict(self)


def without_outliers(values: np.ndarray, factor: float) -> np.ndarray:
    """Values inside [Q1 - factor*IQR, Q3 + factor*IQR]."""
    if values.size < 4:
        return values
    q1, q3 = np.percentile(values, [25, 75])
    spread = q3 - q1
    return values[(values >= q1 - factor * spread) & (values <= q3 + factor * spread)]


def shift_interval(
    baseline: np.ndarray, candidate: np.ndarray, confidence: float
) -> tuple[float, float, float]:
    """The Hodges-Lehmann estimate of candidate - baseline and its confidence interval."""
    differences = np.sort(np.subtract.outer(candidate, baseline).ravel())
    n, m = baseline.size, candidate.size
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    k = math.floor(n * m / 2 - z * math.sqrt(n * m * (n + m + 1) / 12))
    k = min(max(k, 0), differences.size - 1)
    return (
        float(np.median(differences)),
        float(differences[k]),
        float(differences[differences.size - 1 - k]),
    )


def judge_shift(
    baseline: list[float] | np.ndarray,
    candidate: list[float] | np.ndarray,
    settings: JudgeSettings = JudgeSettings(),  # noqa: B008  (frozen: safe to share)
) -> Shift:
    """Worse when the whole confidence interval of the relative shift lies above +tolerance
    (and of the shift in ms above ``min_shift_ms``), better when it lies below -tolerance (and
    -``min_shift_ms``), same otherwise."""
    base_all = np.asarray(baseline, dtype=float)
    cand_all = np.asarray(candidate, dtype=float)
    base = without_outliers(base_all, settings.iqr_factor)
    cand = without_outliers(cand_all, settings.iqr_factor)
    outliers = (base_all.size - base.size, cand_all.size - cand.size)
    if min(base.size, cand.size) < settings.min_samples:
        return Shift(
            UNKNOWN,
            float(np.median(base)) if base.size else None,
            float(np.median(cand)) if cand.size else None,
            None, None, None, None, (base.size, cand.size), outliers,
        )  # fmt: skip
    centre = float(np.median(base))
    estimate, low, high = shift_interval(base, cand, settings.confidence)
    p_value = float(stats.mannwhitneyu(cand, base, alternative="two-sided").pvalue)
    floor = settings.min_shift_ms
    verdict = SAME
    scale = abs(centre) if centre else 1.0
    if low > floor and low / scale > settings.tolerance:
        verdict = WORSE
    elif high < -floor and high / scale < -settings.tolerance:
        verdict = BETTER
    effect, low, high = estimate / scale, low / scale, high / scale
    return Shift(
        verdict, centre, float(np.median(cand)), effect, low, high, p_value,
        (base.size, cand.size), outliers,
    )  # fmt: skip


@dataclass(frozen=True)
class ErrorShift:
    verdict: str
    baseline_ratio: float | None
    candidate_ratio: float | None
    p_value: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def judge_errors(
    baseline: tuple[int, int],
    candidate: tuple[int, int],
    settings: JudgeSettings = JudgeSettings(),  # noqa: B008
) -> ErrorShift:
    """Failure ratios, from (failures, requests) of each run, by Fisher's exact test at the same
    confidence, with an absolute tolerance: 3 failures in 100,000 against none is "same"."""
    (base_fail, base_total), (cand_fail, cand_total) = baseline, candidate
    if not base_total or not cand_total:
        return ErrorShift(UNKNOWN, None, None, None)
    base_ratio, cand_ratio = base_fail / base_total, cand_fail / cand_total
    table = [[cand_fail, cand_total - cand_fail], [base_fail, base_total - base_fail]]
    p_value = float(stats.fisher_exact(table).pvalue)
    significant = p_value < 1 - settings.confidence
    verdict = SAME
    if significant and cand_ratio - base_ratio > settings.error_tolerance:
        verdict = WORSE
    elif significant and base_ratio - cand_ratio > settings.error_tolerance:
        verdict = BETTER
    return ErrorShift(verdict, base_ratio, cand_ratio, p_value)


def combined(*verdicts: str) -> str:
    """One endpoint's verdict from its metrics': worse wins, then better, then same."""
    for verdict in (WORSE, BETTER, SAME):
        if verdict in verdicts:
            return verdict
    return UNKNOWN

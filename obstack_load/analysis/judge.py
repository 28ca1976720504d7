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

from obstack_load.core import histogram as histograms

BETTER, SAME, WORSE, UNKNOWN = "better", "same", "worse", "too few data"
# how a latency verdict was reached: per-interval values, or (a run too short for enough
# intervals) every request's bucketed response time
BY_INTERVALS, BY_REQUESTS = "intervals", "requests"


@dataclass(frozen=True)
class JudgeSettings:
    confidence: float = 0.98  # Kayenta's
    tolerance: float = 0.10  # a relative shift inside +-10% is "same", however certain
    iqr_factor: float = 3.0  # Kayenta's outlier fence
    # fewer intervals than this in either run: judged by its requests. 10, not 6: at 6 or 7
    # intervals (a 30 s run) the interval method missed a +500% change in 2 of 10 pairs that
    # the requests caught, with no more false alarms (benchmarks/short_run_verdicts.py)
    min_samples: int = 10
    # and fewer requests than this as well (or too few for the interval to reach the asked
    # confidence at all): no verdict
    min_requests: int = 5
    error_tolerance: float = 0.001  # failure ratio: an absolute rise under 0.1 point is "same"
    # Locust's histograms round to 1 ms below 100 ms, and a Python generator's own scheduling
    # jitters by about as much: a shift whose interval does not clear 1 ms is "same"
    min_shift_ms: float = 1.0
    # an endpoint must also clear the tolerance after the shift all the others share is divided
    # out (compare.py). Off by default: measured, it cost a quarter of the power and saved no
    # false alarm (docs/regressions.md)
    against_the_rest: bool = False
    # exit code 3 ("could not judge") when any endpoint could not be judged; by default only
    # when the comparison as a whole could not be (all requests together, or no endpoint)
    strict: bool = False


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
    method: str = BY_INTERVALS
    note: str = ""  # why there is no verdict, or how it was reached

    def as_dict(self) -> dict:
        return asdict(self)


def without_outliers(values: np.ndarray, factor: float) -> np.ndarray:
    """Values inside [Q1 - factor*IQR, Q3 + factor*IQR]."""
    if values.size < 4:
        return values
    q1, q3 = np.percentile(values, [25, 75])
    spread = q3 - q1
    return values[(values >= q1 - factor * spread) & (values <= q3 + factor * spread)]


def _rank(n: float, m: float, confidence: float) -> int:
    """The 0-based rank, among the n*m sorted differences, of the interval's lower end; below
    0 when the samples are too small for any interval to reach ``confidence``. Without the
    correction for ties, so with many ties the interval is wider than it need be: conservative."""
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    return math.floor(n * m / 2 - z * math.sqrt(n * m * (n + m + 1) / 12))


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
    verdict, scale = _verdict(centre, low, high, settings)
    effect, low, high = estimate / scale, low / scale, high / scale
    return Shift(
        verdict, centre, float(np.median(cand)), effect, low, high, p_value,
        (base.size, cand.size), outliers,
    )  # fmt: skip


def _weighted_rank(values: np.ndarray, weights: np.ndarray, rank: float) -> float:
    """The value at 0-based ``rank`` of the sorted sample in which each value appears its
    weight's number of times (a half rank is the mean of its two neighbours)."""
    cumulative = np.cumsum(weights)
    low = values[np.searchsorted(cumulative, math.floor(rank) + 1)]
    high = values[np.searchsorted(cumulative, math.ceil(rank) + 1)]
    return float((low + high) / 2)


def _lower_fraction(n: float, m: float, confidence: float) -> float:
    """``_rank`` as a fraction of the n*m differences, for sizes that need not be whole (the
    effective sizes of clustered samples); below 0 when no interval reaches ``confidence``."""
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    return (n * m / 2 - z * math.sqrt(n * m * (n + m + 1) / 12)) / (n * m)


def weighted_shift_interval(
    baseline: dict[int, int], candidate: dict[int, int], confidence: float, design: float = 1.0
) -> tuple[float, float, float] | None:
    """``shift_interval`` over every request, from two histograms: the differences between
    buckets, each weighted by how many request pairs it stands for, which is the same as
    expanding the histograms (millions of pairs) without doing it. ``design`` is the design
    effect of clustered samples: the interval is that of samples ``design`` times smaller.
    None when no interval reaches ``confidence``."""
    base_values = np.array(list(baseline), dtype=float)
    base_counts = np.array(list(baseline.values()), dtype=float)
    cand_values = np.array(list(candidate), dtype=float)
    cand_counts = np.array(list(candidate.values()), dtype=float)
    n, m = base_counts.sum(), cand_counts.sum()
    fraction = _lower_fraction(n / design, m / design, confidence)
    if fraction < 0:
        return None
    differences = np.subtract.outer(cand_values, base_values).ravel()
    weights = np.outer(cand_counts, base_counts).ravel()
    order = np.argsort(differences, kind="stable")
    differences, weights = differences[order], weights[order]
    pairs = n * m
    k = min(math.floor(fraction * pairs), pairs - 1)
    return (
        _weighted_rank(differences, weights, (pairs - 1) / 2),
        _weighted_rank(differences, weights, k),
        _weighted_rank(differences, weights, pairs - 1 - k),
    )


def _expanded(histogram: dict[int, int]) -> np.ndarray:
    return np.repeat(np.array(list(histogram), dtype=float), list(histogram.values()))


def _median(histogram: dict[int, int]) -> float:
    keys = np.array(sorted(histogram), dtype=float)
    counts = np.array([histogram[int(k)] for k in keys], dtype=float)
    return _weighted_rank(keys, counts, (counts.sum() - 1) / 2)


MIN_CLUSTERS = 3  # intervals with requests, per run, for the design effect to be estimated


def design_effect(intervals: list[dict[int, int]]) -> float | None:
    """How many times a run's requests overstate its information: Kish's design effect
    1 + (n0 - 1) * ICC, with the intraclass correlation of response times within intervals
    from a one-way analysis of variance (intervals as clusters, n0 their mean size). Requests
    of one interval share its moment (a busy second, a burst at spawn), so they are not
    independent samples. None with fewer than ``MIN_CLUSTERS`` intervals: all the requests
    may be one burst (every login at spawn), and then there is one sample, not hundreds."""
    clusters = [
        (np.array(list(h), dtype=float), np.array(list(h.values()), dtype=float))
        for h in intervals
        if sum(h.values())
    ]
    if len(clusters) < MIN_CLUSTERS:
        return None
    counts = np.array([c.sum() for _, c in clusters])
    means = np.array([(v * c).sum() / c.sum() for v, c in clusters])
    within = sum(
        float((c * (v - mean) ** 2).sum()) for (v, c), mean in zip(clusters, means, strict=True)
    )
    total, k = counts.sum(), len(clusters)
    grand = float((counts * means).sum() / total)
    between = float((counts * (means - grand) ** 2).sum()) / (k - 1)
    within = within / (total - k) if total > k else 0.0
    size = (total - (counts**2).sum() / total) / (k - 1)
    spread = between + (size - 1) * within
    icc = (between - within) / spread if spread > 0 else 0.0
    return 1.0 + (size - 1) * min(max(icc, 0.0), 1.0)


def judge_requests(
    baseline: list[dict[int, int]],
    candidate: list[dict[int, int]],
    settings: JudgeSettings = JudgeSettings(),  # noqa: B008  (frozen: safe to share)
) -> Shift:
    """``judge_shift`` on every request's response time, bucketed as Locust buckets it (1 ms
    below 100 ms), for a run too short to have ``min_samples`` intervals; each run given as its
    intervals' histograms. The same interval on the shift, tolerance and 1 ms floor, with the
    interval widened by the larger of the two runs' design effects (``design_effect``), since
    requests of one moment are not independent; no outlier fence (one slow request among
    hundreds moves a median-based shift by one rank, not the verdict). Its false-positive rate
    and power are measured: docs/regressions.md."""
    base, cand = (
        {key: count for key, count in histograms.merged(run)[0].items() if count}
        for run in (baseline, candidate)
    )
    sizes = (sum(base.values()), sum(cand.values()))
    centres = (_median(base) if base else None, _median(cand) if cand else None)

    def unknown(why: str) -> Shift:
        return Shift(UNKNOWN, *centres, None, None, None, None, sizes, (0, 0), BY_REQUESTS, why)

    if min(sizes) < settings.min_requests:
        return unknown(
            f"{sizes[0]} and {sizes[1]} requests: fewer than {settings.min_requests} on a side"
        )
    effects = (design_effect(baseline), design_effect(candidate))
    if None in effects:
        return unknown(
            f"requests in fewer than {MIN_CLUSTERS} intervals on a side: one burst is one sample"
        )
    design = max(effects)
    found = weighted_shift_interval(base, cand, settings.confidence, design)
    if found is None:
        return unknown(
            f"{sizes[0]} and {sizes[1]} requests, worth {sizes[0] / design:.0f} and "
            f"{sizes[1] / design:.0f} independent ones: too few for a "
            f"{settings.confidence * 100:g}% interval"
        )
    estimate, low, high = found
    z = stats.norm.isf(
        stats.mannwhitneyu(_expanded(cand), _expanded(base), alternative="two-sided").pvalue / 2
    )
    p_value = float(2 * stats.norm.sf(z / math.sqrt(design)))
    verdict, scale = _verdict(centres[0], low, high, settings)
    return Shift(
        verdict, *centres, estimate / scale, low / scale, high / scale, p_value, sizes, (0, 0),
        BY_REQUESTS, f"design effect {design:.1f}",
    )  # fmt: skip


def _verdict(centre: float, low: float, high: float, settings: JudgeSettings) -> tuple[str, float]:
    """The verdict on a shift's interval (in ms) around a baseline ``centre``, and the scale
    that turns ms into a relative shift."""
    floor = settings.min_shift_ms
    scale = abs(centre) if centre else 1.0
    if low > floor and low / scale > settings.tolerance:
        return WORSE, scale
    if high < -floor and high / scale < -settings.tolerance:
        return BETTER, scale
    return SAME, scale


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

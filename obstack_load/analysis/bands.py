"""SCALE-001's rating of a run: good, warning or critical, for p95, error rate and throughput.

    metric       good          warning        critical
    p95          < 200 ms      < 500 ms       > 1,000 ms
    error rate   < 0.1%        < 1%           > 5%
    throughput   > target      80% of target  < 50% of target

SCALE-001 leaves the gaps between its warning and critical columns unrated; here they are
warnings, so every value has exactly one rating: good up to the good bound, critical past the
critical bound, warning between.
"""

from __future__ import annotations

from dataclasses import dataclass

GOOD, WARNING, CRITICAL, UNRATED = "good", "warning", "critical", "unrated"


@dataclass(frozen=True)
class Band:
    metric: str
    good: float  # good while below (or, for throughput, at or above) this
    critical: float  # critical past this
    higher_is_better: bool = False

    def rate(self, value: float | None) -> str:
        if value is None:
            return UNRATED
        if self.higher_is_better:
            return GOOD if value >= self.good else CRITICAL if value < self.critical else WARNING
        return GOOD if value < self.good else CRITICAL if value > self.critical else WARNING


P95_MS = Band("p95 latency (ms)", 200, 1000)
ERROR_RATE = Band("error rate", 0.001, 0.05)


def throughput_band(target_rps: float) -> Band:
    return Band("throughput (requests/s)", target_rps, 0.5 * target_rps, higher_is_better=True)


@dataclass(frozen=True)
class Rating:
    metric: str
    value: float | None
    rating: str
    bounds: str


def rate_run(p95_ms: float | None, error_rate: float | None, rps: float | None,
             target_rps: float | None) -> list[Rating]:  # fmt: skip
    ratings = [
        Rating(P95_MS.metric, p95_ms, P95_MS.rate(p95_ms), "good < 200, critical > 1,000"),
        Rating(ERROR_RATE.metric, error_rate, ERROR_RATE.rate(error_rate),
               "good < 0.1%, critical > 5%"),
    ]  # fmt: skip
    if target_rps:
        band = throughput_band(target_rps)
        ratings.append(
            Rating(band.metric, rps, band.rate(rps),
                   f"good >= {target_rps:g}, critical < {0.5 * target_rps:g}")
        )  # fmt: skip
    else:
        ratings.append(Rating("throughput (requests/s)", rps, UNRATED, "no target: --target-rps"))
    return ratings

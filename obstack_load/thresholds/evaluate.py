"""Evaluating thresholds against Locust's merged stats and the ingest ledger.

Response-time figures come from Locust's own StatsEntry (so a threshold and Locust's report never
disagree); OTLP items from the exact ingest accounting.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from locust.stats import RequestStats, StatsEntry, StatsError

from obstack_load.core.ledger import IngestLedger
from obstack_load.thresholds.expressions import FAIL, FIGURES, WARN, Threshold


@dataclass(frozen=True)
class Verdict:
    threshold: Threshold
    observed: float | None
    level: str  # pass, warn or fail
    detail: str

    @property
    def passed(self) -> bool:
        """Not failed: a warning passes (unless --threshold-fail-on-warning says otherwise)."""
        return self.level != FAIL

    @property
    def warned(self) -> bool:
        return self.level == WARN

    def row(self, evaluated_at: float) -> tuple:
        t = self.threshold
        return (
            t.expression, t.scope, self.observed, self.passed, evaluated_at, self.detail, self.level,
        )  # fmt: skip

    def as_dict(self) -> dict:
        t = self.threshold
        return {
            "expression": t.expression,
            "scope": t.scope,
            "observed": self.observed,
            "passed": self.passed,
            "level": self.level,
            "detail": self.detail,
        }


def _matching_entry(stats: RequestStats, threshold: Threshold) -> StatsEntry | None:
    if not threshold.scope_kind:
        return stats.total if stats.total.num_requests else None
    entries = [
        e
        for e in stats.entries.values()
        if (threshold.scope_kind == "name" and e.name == threshold.scope_value)
        or (threshold.scope_kind in ("method", "type") and e.method == threshold.scope_value)
    ]
    if not entries:
        return None
    if len(entries) == 1:
        return entries[0]
    merged = StatsEntry(stats, threshold.scope_value, "", use_response_times_cache=False)
    for entry in entries:
        merged.extend(entry)
    return merged


def _request_metric(entry: StatsEntry, threshold: Threshold) -> float:
    metric = threshold.metric
    if metric == "p":
        return float(entry.get_response_time_percentile(threshold.percentile))
    values = {
        "avg": lambda: entry.avg_response_time,
        "min": lambda: entry.min_response_time or 0.0,
        "max": lambda: entry.max_response_time,
        "med": lambda: entry.median_response_time,
        "rate": lambda: entry.fail_ratio,
        "rps": lambda: entry.total_rps,
        "count": lambda: entry.num_requests,
        "failures": lambda: entry.num_failures,
    }
    return float(values[metric]())


def observe(
    threshold: Threshold,
    stats: RequestStats,
    ledger: IngestLedger,
    duration_s: float,
    figures: dict[str, dict[str, float | None]] | None = None,
) -> tuple[float | None, str]:
    """The observed value, or None with a reason when there is nothing to observe."""
    if threshold.metric in FIGURES:
        measured = (figures or {}).get(threshold.metric)
        if measured is None:
            return None, f"{threshold.metric} was not measured in this run"
        value = measured.get(threshold.scope_value)
        return value, "" if value is not None else f"no {threshold.scope} figure"
    if threshold.scope_kind == "error":
        # Locust's own text for an error: the repr of an exception, so it names the error's kind
        count = sum(
            e.occurrences
            for e in stats.errors.values()
            if threshold.scope_value in StatsError.parse_error(e.error)
        )
        return float(count), f"{count} matching error(s)"
    if threshold.scope_kind == "signal":
        counts = ledger.by_signal().get(threshold.scope_value)
        if counts is None:
            return None, f"no {threshold.scope_value} were sent"
        value = {
            "items": counts.accepted_items,
            "items_per_s": counts.accepted_items / duration_s if duration_s > 0 else 0.0,
            "rejected": counts.rejected_items,
            "throttled": counts.throttled_requests,
            "lost": counts.lost_items,  # given up on after the last retry
            "missing": counts.verify_missing_items,  # ingest-then-verify: never became visible
        }[threshold.metric]
        return float(value), ""
    entry = _matching_entry(stats, threshold)
    if entry is None:
        return None, f"no requests matched {threshold.scope}"
    if threshold.metric == "count" or entry.num_requests:
        return _request_metric(entry, threshold), ""
    return None, "no requests"


def evaluate(
    thresholds: list[Threshold],
    stats: RequestStats,
    ledger: IngestLedger,
    figures: dict[str, dict[str, float | None]] | None = None,
) -> list[Verdict]:
    total = stats.total
    duration = max((total.last_request_timestamp or time.time()) - total.start_time, 1e-9)
    verdicts = []
    for threshold in thresholds:
        observed, detail = observe(threshold, stats, ledger, duration, figures)
        verdicts.append(Verdict(threshold, observed, threshold.level(observed), detail))
    return verdicts


def format_table(verdicts: list[Verdict]) -> str:
    lines = ["", "Thresholds", f"  {'result':<6} {'expression':<48} {'observed':>12}  detail"]
    for v in verdicts:
        observed = "-" if v.observed is None else f"{v.observed:.4g}"
        lines.append(
            f"  {v.level.upper():<6} {v.threshold.expression:<48} {observed:>12}  {v.detail}"
        )
    passed = sum(v.passed for v in verdicts)
    warned = sum(v.warned for v in verdicts)
    lines.append(
        f"  {passed}/{len(verdicts)} passed" + (f", {warned} with a warning" if warned else "")
    )
    return "\n".join(lines)

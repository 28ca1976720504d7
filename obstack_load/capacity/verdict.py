"""Reading a capacity search's steps: the capacity, the knee, what degraded first, and what
saturated first, in plain words.

Plain data in and out (no Locust), so the report, the CLI and the tests share it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# What counts as saturated. A generator over 90% CPU, or with more than 5% of its iterations
# late or dropped, is not offering the rate it was asked for; its figures say nothing of the
# target. A target process over 85% CPU is at its limit on that core.
GENERATOR_CPU_LIMIT = 0.90
GENERATOR_LATE_LIMIT = 0.05
TARGET_CPU_LIMIT = 0.85
POOL_LIMIT = 0.80
DEGRADED_FACTOR = 2.0  # an endpoint has degraded when its p95 is twice its first step's


@dataclass
class Step:
    offered_rate: float
    achieved_rps: float
    seconds: float
    requests: int
    failures: int
    p95_ms: float | None  # corrected for coordinated omission where the arrival rate measured it
    raw_p95_ms: float | None  # from each request's own send: the target's latency alone
    passed: bool
    settled: bool
    slo_results: list[dict[str, Any]] = field(default_factory=list)
    endpoints_p95_ms: dict[str, float] = field(default_factory=dict)
    generator_cpu: float | None = None  # the busiest generator process, 0..1 of one core
    late_ratio: float = 0.0  # iterations late (>10 ms) or dropped, of those scheduled
    # the target's figures through the run's one source (figures/seam.py); None: n/a
    target_cpu: float | None = None  # the target's processes, in cores (1.0: one core)
    target_memory_bytes: float | None = None  # its peak over the step
    pool_utilization: float | None = None
    pool_waiting: float | None = None  # the most requests waiting for a connection at once
    throttled: int | None = None
    generator_bound: bool = False  # set by ``mark_generator_bound``
    iterations_per_s: float = 0.0  # the offered rate's iterations that ran (an iteration may
    # be several requests; achieved_rps counts every request of the run, other users' too)
    drain_s: float | None = 0.0  # after a broken step: seconds its backlog took to drain
    # before the next step (None: it had not drained within the bound)
    raw_p50_ms: float | None = None  # the raw median: a busy machine moves it least

    @property
    def failed_on_latency(self) -> bool:
        return any(
            not r["passed"] and r["metric"] in ("p", "avg", "med", "max") for r in self.slo_results
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _target_latency(step: Step) -> float | None:
    """The target's own latency at a step: the raw median where measured, else the raw p95.

    The median, because a busy machine's hiccups double a p95 of tens of ms on a target that
    keeps up (CI: one user against a 200/s target, broken steps judged the target's queue),
    while a target's queue moves its median as much as its p95."""
    return step.raw_p50_ms if step.raw_p50_ms is not None else step.raw_p95_ms


def mark_generator_bound(steps: list[Step]) -> None:
    """A step is generator-bound when the generator was not offering the rate it was asked
    for: its CPU was saturated, or its iterations ran late while the target still answered as
    fast as at the lightest step (late iterations with a slow target are the target's queue:
    every user is waiting on it)."""
    raw = [latency for s in steps if (latency := _target_latency(s)) is not None]
    baseline = max(min(raw), 1.0) if raw else None
    for step in steps:
        latency = _target_latency(step)
        target_fast = (
            baseline is not None
            and latency is not None
            and latency <= DEGRADED_FACTOR * baseline
            and (step.target_cpu or 0.0) < TARGET_CPU_LIMIT
        )
        undelivered = any(r["metric"] == "delivered" and not r["passed"] for r in step.slo_results)
        step.generator_bound = (step.generator_cpu or 0.0) >= GENERATOR_CPU_LIMIT or (
            (step.late_ratio >= GENERATOR_LATE_LIMIT or undelivered) and target_fast
        )


def knee(steps: list[Step]) -> float | None:
    """The offered rate where the latency curve bends (Kneedle, via the kneed library).

    It is found on the curve's running maximum, cut where that maximum is first reached:
    past the capacity a step's latency is bounded by the arrival rate's --arrival-max-lag and
    wanders, and Kneedle needs a curve that bends once, upward."""
    import itertools

    points = sorted((s.offered_rate, s.p95_ms) for s in steps if s.p95_ms is not None)
    if len(points) < 3:
        return None
    from kneed import KneeLocator

    rates = [rate for rate, _ in points]
    envelope = list(itertools.accumulate((p95 for _, p95 in points), max))
    cut = envelope.index(envelope[-1]) + 1
    if cut < 3:
        return None
    found = KneeLocator(rates[:cut], envelope[:cut], curve="convex", direction="increasing").knee
    return float(found) if found is not None else None


def degraded_first(steps: list[Step]) -> tuple[str, float] | None:
    """The endpoint whose p95 doubled at the lowest offered rate, and that rate."""
    ordered = sorted(steps, key=lambda s: s.offered_rate)
    if not ordered:
        return None
    baseline = ordered[0].endpoints_p95_ms
    for step in ordered[1:]:
        worse = [
            (p95 / max(baseline[name], 1.0), name)
            for name, p95 in step.endpoints_p95_ms.items()
            if name in baseline and p95 >= DEGRADED_FACTOR * max(baseline[name], 1.0)
        ]
        if worse:
            return max(worse)[1], step.offered_rate
    return None


@dataclass
class Finding:
    capacity: float | None  # the highest offered rate that held every SLO
    upper: float | None  # the lowest that did not, above it: the capacity is below this
    outcome: str
    limit: str  # generator, target-cpu, database-pool, errors, throttling, latency, none
    generator_bound: bool
    knee: float | None
    degraded_first: tuple[str, float] | None
    words: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def limit_at(step: Step) -> str:
    """What saturated at a failing step."""
    if step.generator_bound:
        return "generator"
    if (step.target_cpu or 0.0) >= TARGET_CPU_LIMIT:
        return "target-cpu"
    if (step.pool_utilization or 0.0) >= POOL_LIMIT:
        return "database-pool"
    if step.throttled:
        return "throttling"
    failed_on_errors = any(not r["passed"] and r["metric"] == "rate" for r in step.slo_results)
    # a step whose latency was still rising broke on a growing queue, even if its p95 had not
    # crossed the SLO yet (a step that starts drained, after an overloaded one, often does)
    if step.failed_on_latency or (not step.settled and not failed_on_errors):
        return "latency"
    return "errors"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def find(steps: list[Step], outcome: str, passed: float | None, failed: float | None,
         unit: str = "iterations/s") -> Finding:  # fmt: skip
    mark_generator_bound(steps)
    failing = [s for s in steps if not s.passed]
    first_fail = min(failing, key=lambda s: s.offered_rate) if failing else None
    bound = any(s.generator_bound for s in steps if not s.passed) or (
        first_fail is None and any(s.generator_bound for s in steps)
    )
    limit = limit_at(first_fail) if first_fail else ("generator" if bound else "none")
    words: list[str] = []
    if limit == "generator":
        worst = max(steps, key=lambda s: (s.generator_cpu or 0.0, s.late_ratio))
        words.append(
            f"The generator was the limit: at {worst.offered_rate:,.0f} {unit} offered, its CPU "
            f"was at {_pct(worst.generator_cpu)} and {_pct(worst.late_ratio)} of iterations were "
            "late or dropped, so the target's capacity was not reached. Add workers "
            "(--workers N) or users, and search again."
        )
        return Finding(None, None, outcome, limit, True, knee(steps), degraded_first(steps), words)
    if outcome == "above-maximum":
        words.append(
            f"Every SLO held up to the maximum offered, {passed:,.0f} {unit}: the capacity is "
            "above it; raise --max."
        )
    elif outcome == "below-floor":
        words.append("No offered rate held every SLO, down to the floor of the search.")
    else:
        broken = [r["expression"] for r in first_fail.slo_results if not r["passed"]]
        broken = [b for b in broken if not b.startswith("delivered")] or broken
        words.append(
            f"Capacity {passed:,.0f} {unit} (below {failed:,.0f}): at {first_fail.offered_rate:,.0f}"
            f" {unit} offered, {', '.join(broken) + ' failed' if broken else 'the latency kept rising'}; the "
            f"target's CPU was at {_pct(first_fail.target_cpu)} and the generator's at "
            f"{_pct(first_fail.generator_cpu)}."
        )
        latency_words = (
            "The latency grew with its CPU short of saturation: a queue, lock or concurrency "
            "limit inside the target is the limit, not its CPU."
            if first_fail.target_cpu is not None
            else "The latency grew; the target's CPU was n/a (its figures source had none at "
            "that step), so whether its CPU or something inside it is the limit is not known."
        )
        words.append(
            {
                "target-cpu": "The target's CPU is the limit: more target processes or cores "
                "should raise the capacity (check with --compare-scaling).",
                "database-pool": "The target's database pool is the limit: a larger pool, or "
                "fewer statements per request, should raise the capacity.",
                "throttling": "The target throttled (429): its rate limits are the limit.",
                "latency": latency_words,
                "errors": "Errors, not latency, broke the SLOs first: see the run's error table.",
            }[limit]
        )
    first = degraded_first(steps)
    if first:
        words.append(f"{first[0]} degraded first: its p95 doubled at {first[1]:,.0f} {unit}.")
    bend = knee(steps)
    if bend is not None:
        words.append(f"The latency curve bends (its knee) at {bend:,.0f} {unit}.")
    if any(not s.settled for s in steps if s.passed):
        words.append("Some passing steps had not settled: hold steps longer (--step-time).")
    stuck = [s.offered_rate for s in steps if s.drain_s is None]
    if stuck:
        words.append(
            f"The target had not drained its backlog after the step at {stuck[0]:,.0f} {unit}: "
            "the step after it may have inherited that backlog."
        )
    return Finding(passed, failed, outcome, limit, False, bend, first, words)

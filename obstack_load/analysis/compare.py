"""``obstack-load compare BASE CANDIDATE``: per endpoint, is the candidate better, the same or
worse than the baseline, with the effect size and its confidence interval. See
docs/regressions.md for the method, its parameters and its measured error rates."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import numpy as np

from obstack_load.analysis import series
from obstack_load.analysis.judge import (
    BETTER,
    BY_REQUESTS,
    SAME,
    UNKNOWN,
    WORSE,
    ErrorShift,
    JudgeSettings,
    Shift,
    combined,
    judge_errors,
    judge_requests,
    judge_shift,
)
from obstack_load.core.errors import ObstackLoadError
from obstack_load.results.queries import RunNotFound
from obstack_load.results.store import Store

EXIT_SAME = 0
EXIT_WORSE = 1  # some endpoint (or all requests together) got worse
# none worse, but some endpoint (or all requests together) could not be judged: too few
# requests. Not 0, so that a gate can tell "nothing got worse" from "nothing could be seen";
# not 2, which is bad input
EXIT_UNJUDGED = 3


MIN_CONTROLS = 3  # other judged endpoints needed to tell a shared shift from one endpoint's


@dataclass(frozen=True)
class EndpointComparison:
    method: str
    name: str
    verdict: str
    latency: Shift
    errors: ErrorShift
    requests: tuple[int, int]  # baseline, candidate
    # the latency shift after taking out the shift every other endpoint shows (effect, low, high)
    relative: tuple[float, float, float] | None = None
    moved_with_the_rest: bool = False  # past the tolerance, but only as far as the others

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "name": self.name,
            "verdict": self.verdict,
            "requests": list(self.requests),
            "latency": self.latency.as_dict(),
            "relative": list(self.relative) if self.relative else None,
            "moved_with_the_rest": self.moved_with_the_rest,
            "errors": self.errors.as_dict(),
        }


@dataclass
class Comparison:
    baseline: dict
    candidate: dict
    metric: str
    settings: JudgeSettings
    endpoints: list[EndpointComparison] = field(default_factory=list)
    total: EndpointComparison | None = None
    shared_shift: float | None = None  # the median latency shift over the judged endpoints
    only_in_baseline: list[str] = field(default_factory=list)
    only_in_candidate: list[str] = field(default_factory=list)

    @property
    def worse(self) -> list[EndpointComparison]:
        judged = [*self.endpoints, *([self.total] if self.total else [])]
        return [e for e in judged if e.verdict == WORSE]

    @property
    def verdict(self) -> str:
        if self.worse:
            return WORSE
        verdicts = [e.verdict for e in self.endpoints]
        return combined(*verdicts) if verdicts else UNKNOWN

    @property
    def unjudged(self) -> list[EndpointComparison]:
        """Endpoints (and all requests together) with no verdict: too few requests."""
        return [e for e in _rows(self) if e.verdict == UNKNOWN]

    @property
    def judged_at_all(self) -> bool:
        """All requests together, and at least one endpoint, have a verdict."""
        unjudged = self.unjudged
        return (
            self.total is not None
            and self.total not in unjudged
            and len(unjudged) < len(self.endpoints)
        )

    @property
    def exit_code(self) -> int:
        if self.worse:
            return EXIT_WORSE
        if not self.judged_at_all or (self.settings.strict and self.unjudged):
            return EXIT_UNJUDGED
        return EXIT_SAME

    def as_dict(self) -> dict:
        return {
            "baseline": self.baseline,
            "candidate": self.candidate,
            "metric": self.metric,
            "settings": self.settings.__dict__,
            "verdict": self.verdict,
            "headline": headline(self),
            "exit_code": self.exit_code,
            "unjudged": [
                {"method": e.method, "name": e.name, "why": why_unjudged(e, self.settings)}
                for e in self.unjudged
            ],
            "shared_shift": self.shared_shift,
            "total": self.total.as_dict() if self.total else None,
            "endpoints": [e.as_dict() for e in self.endpoints],
            "only_in_baseline": self.only_in_baseline,
            "only_in_candidate": self.only_in_candidate,
        }


def run_header(store: Store, run_id: str) -> dict:
    rows = store.fetch(
        "SELECT run_id, label, profile, started_at, ended_at, status, exit_code, git_revision "
        "FROM runs WHERE run_id = ?",
        (run_id,),
    )
    if not rows:
        raise RunNotFound(f"no run {run_id!r}")
    return rows[0]


def auto_baseline(store: Store, candidate_id: str) -> str:
    """The last passing run (finished, exit code 0) with the candidate's label and profile,
    started before it."""
    run = run_header(store, candidate_id)
    rows = store.fetch(
        "SELECT run_id FROM runs WHERE status = 'finished' AND exit_code = 0 AND started_at < ? "
        "AND COALESCE(label, '') = ? AND COALESCE(profile, '') = ? "
        "ORDER BY started_at DESC LIMIT 1",
        (run["started_at"], run["label"] or "", run["profile"] or ""),
    )
    if not rows:
        raise ObstackLoadError(
            f"--baseline auto: no passing run before {candidate_id[:12]} with label "
            f"{run['label'] or '(none)'!r} and profile {run['profile'] or '(none)'!r}"
        )
    return rows[0]["run_id"]


def _endpoint(
    key: tuple[str, str],
    base: series.Intervals,
    cand: series.Intervals,
    metric: str,
    settings: JudgeSettings,
) -> EndpointComparison:
    latency = judge_shift(base.values(metric), cand.values(metric), settings)
    if latency.verdict == UNKNOWN:  # a short run: too few intervals, so every request
        latency = judge_requests(base.histograms, cand.histograms, settings)
    errors = judge_errors((base.failed, base.requests), (cand.failed, cand.requests), settings)
    # Too few intervals to judge the latency: no verdict, unless failures alone say worse.
    verdict = (
        combined(latency.verdict, errors.verdict)
        if latency.verdict != UNKNOWN or errors.verdict == WORSE
        else UNKNOWN
    )
    return EndpointComparison(
        key[0],
        key[1],
        verdict,
        latency,
        errors,
        (base.requests, cand.requests),
    )


def compare_runs(
    store: Store,
    baseline_id: str,
    candidate_id: str,
    metric: str = "mean",
    settings: JudgeSettings = JudgeSettings(),  # noqa: B008  (frozen)
    warmup_s: float = 0.0,
) -> Comparison:
    base = series.intervals(store, baseline_id, warmup_s)
    cand = series.intervals(store, candidate_id, warmup_s)
    comparison = Comparison(
        run_header(store, baseline_id), run_header(store, candidate_id), metric, settings
    )
    for key in sorted(set(base) & set(cand) - {series.TOTAL}, key=lambda k: (k[1], k[0])):
        comparison.endpoints.append(_endpoint(key, base[key], cand[key], metric, settings))
    if series.TOTAL in base and series.TOTAL in cand:
        comparison.total = _endpoint(
            series.TOTAL, base[series.TOTAL], cand[series.TOTAL], metric, settings
        )
    _against_the_rest(comparison)
    comparison.only_in_baseline = [f"{m} {n}" for m, n in sorted(set(base) - set(cand))]
    comparison.only_in_candidate = [f"{m} {n}" for m, n in sorted(set(cand) - set(base))]
    return comparison


def _against_the_rest(comparison: Comparison) -> None:
    """The shift every endpoint shares and, with ``--against-the-rest``, each endpoint judged
    against it too.

    Two runs one after the other also differ in their machine: a busy neighbour slows every
    endpoint alike, which a within-run interval cannot know. With the option, an endpoint is
    worse (or better) only if its interval clears the tolerance both as measured and after
    dividing out the median shift of the other endpoints. A change that slows everything alike
    still shows, on the all-requests row and in ``shared_shift``.
    """
    judged = [e for e in comparison.endpoints if e.latency.effect is not None]
    if judged:
        comparison.shared_shift = float(np.median([e.latency.effect for e in judged]))
    tolerance = comparison.settings.tolerance
    if not comparison.settings.against_the_rest:
        return
    for index, endpoint in enumerate(comparison.endpoints):
        shift = endpoint.latency
        others = [e.latency.effect for e in judged if e is not endpoint]
        if shift.effect is None or len(others) < MIN_CONTROLS:
            continue
        common = 1 + float(np.median(others))
        relative = tuple((1 + v) / common - 1 for v in (shift.effect, shift.low, shift.high))
        latency = shift.verdict
        if (latency == WORSE and relative[1] <= tolerance) or (
            latency == BETTER and relative[2] >= -tolerance
        ):
            latency = SAME
        verdict = combined(latency, endpoint.errors.verdict)
        comparison.endpoints[index] = replace(
            endpoint,
            verdict=verdict,
            relative=relative,
            moved_with_the_rest=latency != shift.verdict,
        )


# ---- formats --------------------------------------------------------------------------------

MOVED = "moved past the tolerance, but no further than every other endpoint moved"
BY_REQUESTS_NOTE = (
    "too few intervals: judged on every request's response time (docs/regressions.md)"
)
MARK = {WORSE: "worse", BETTER: "better", SAME: "same", UNKNOWN: "COULD NOT JUDGE"}
EMOJI = {WORSE: "🔴 worse", BETTER: "🟢 better", SAME: "⚪ same", UNKNOWN: "🟡 could not judge"}


def _marks(endpoint: EndpointComparison) -> str:
    return ("*" if endpoint.moved_with_the_rest else "") + (
        "^" if endpoint.latency.method == BY_REQUESTS else ""
    )


def _notes(comparison: Comparison, star: str) -> list[str]:
    rows = _rows(comparison)
    notes = [f"{star} {MOVED}"] if any(e.moved_with_the_rest for e in rows) else []
    if any(e.latency.method == BY_REQUESTS for e in rows):
        notes.append(f"^ {BY_REQUESTS_NOTE}")
    return notes


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.1f}%"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _interval(shift: Shift) -> str:
    if shift.low is None:
        return "-"
    return f"[{_percent(shift.low)}, {_percent(shift.high)}]"


def _errors(errors: ErrorShift) -> str:
    if errors.baseline_ratio is None:
        return "-"
    return f"{errors.baseline_ratio * 100:.2f}% -> {errors.candidate_ratio * 100:.2f}%"


def _rows(comparison: Comparison) -> list[EndpointComparison]:
    return [*comparison.endpoints, *([comparison.total] if comparison.total else [])]


def _name(endpoint: EndpointComparison) -> str:
    return f"{endpoint.method} {endpoint.name}".strip()


def why_unjudged(endpoint: EndpointComparison, settings: JudgeSettings) -> str:
    if endpoint.latency.note:
        return endpoint.latency.note
    base, cand = endpoint.requests
    return f"{base} and {cand} requests"


def _unjudged_line(comparison: Comparison) -> str:
    """How many endpoints could not be judged, which, and why: never read as a pass."""
    rows = comparison.unjudged
    if not _rows(comparison):
        return "COULD NOT JUDGE: the two runs share no endpoint"
    names = ", ".join(_name(e) for e in rows[:5])
    names += f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    reasons = {why_unjudged(e, comparison.settings) for e in rows}
    why = reasons.pop() if len(reasons) == 1 else "too few requests, or all in one burst"
    count = f"{len(rows)} of {len(_rows(comparison))}"
    if not comparison.judged_at_all:
        return f"COULD NOT JUDGE {count} ({names}): {why}; run longer or with more users"
    return f"could not judge {count}: {names} ({why})"


def headline(comparison: Comparison) -> str:
    s = comparison.settings
    endpoints = [e for e in comparison.worse if e is not comparison.total]
    together = comparison.total is not None and comparison.total.verdict == WORSE
    verdict = "no endpoint got worse"
    if comparison.unjudged or not _rows(comparison):
        unjudged = _unjudged_line(comparison)
        verdict = unjudged if unjudged.startswith("COULD NOT") else f"{verdict}; {unjudged}"
    if endpoints:
        verdict = f"WORSE: {len(endpoints)} endpoint(s) slower or failing more"
        verdict += ", and all requests together" if together else ""
    elif together:
        verdict = "WORSE: all requests together, though no one endpoint more than the rest"
    if (endpoints or together) and comparison.unjudged:
        verdict += f"; {_unjudged_line(comparison)}"
    shared = comparison.shared_shift
    if shared is not None and abs(shared) > comparison.settings.tolerance:
        verdict += (
            f"; every endpoint moved {shared * 100:+.0f}% together: a change that slows "
            "everything, or a busier machine"
        )
    by_requests = sum(e.latency.method == BY_REQUESTS for e in _rows(comparison))
    method = f"per-interval {comparison.metric} latency"
    if by_requests:
        method += f", every request's for {by_requests} with too few intervals"
    return (
        f"{verdict} (metric: {method}; "
        f"{s.confidence * 100:g}% confidence, tolerance +-{s.tolerance * 100:g}%)"
    )


def _run_line(run: dict) -> str:
    return (
        f"{run['run_id'][:12]} ({run['label'] or '-'} / {run['profile'] or '-'}, "
        f"{run['status']}, git {(run['git_revision'] or '-')[:10]})"
    )


def format_text(comparison: Comparison) -> str:
    lines = [
        f"baseline  {_run_line(comparison.baseline)}",
        f"candidate {_run_line(comparison.candidate)}",
        headline(comparison),
        f"  {'verdict':<15} {'method':<7} {'name':<44} {'base ms':>8} {'cand ms':>8} "
        f"{'change':>8} {'98% interval':>20}  errors",
    ]
    for e in _rows(comparison):
        lines.append(
            f"  {MARK[e.verdict] + _marks(e):<15} {e.method:<7} {e.name[:44]:<44} {_ms(e.latency.baseline):>8} "
            f"{_ms(e.latency.candidate):>8} {_percent(e.latency.effect):>8} "
            f"{_interval(e.latency):>20}  {_errors(e.errors)}"
        )
    lines += [f"  {note}" for note in _notes(comparison, "*")]
    lines += [
        f"  could not judge {_name(e)}: {why_unjudged(e, comparison.settings)}"
        for e in comparison.unjudged
    ]
    for label, names in (
        ("only in the baseline", comparison.only_in_baseline),
        ("only in the candidate", comparison.only_in_candidate),
    ):
        if names:
            lines.append(f"  {label}: {', '.join(names)}")
    return "\n".join(lines)


def _light(comparison: Comparison) -> str:
    if comparison.worse:
        return "🔴"
    return "🟡" if comparison.exit_code == EXIT_UNJUDGED else "🟢"


def format_markdown(comparison: Comparison) -> str:
    """A PR comment: the verdict first, then a table, worst first."""
    rank = {WORSE: 0, BETTER: 1, UNKNOWN: 2, SAME: 3}
    rows = sorted(_rows(comparison), key=lambda e: rank[e.verdict])
    lines = [
        f"### Load test: {_light(comparison)} {headline(comparison)}",
        "",
        f"Baseline `{_run_line(comparison.baseline)}`, candidate "
        f"`{_run_line(comparison.candidate)}`.",
        "",
        "| verdict | endpoint | baseline ms | candidate ms | change | 98% interval | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for e in rows:
        endpoint = f"`{e.method} {e.name}`".replace("` ", "`") if e.method else f"**{e.name}**"
        lines.append(
            f"| {EMOJI[e.verdict]}{_marks(e)} | {endpoint} | {_ms(e.latency.baseline)} | "
            f"{_ms(e.latency.candidate)} | {_percent(e.latency.effect)} | "
            f"{_interval(e.latency)} | {_errors(e.errors)} |"
        )
    notes = _notes(comparison, "\\*")
    lines += ["", *notes] if notes else []
    lines += ["", "<sub>obstack-load compare: Mann-Whitney interval on per-interval latencies, "
              "IQR outliers removed (docs/regressions.md)</sub>"]  # fmt: skip
    return "\n".join(lines)


def format_json(comparison: Comparison) -> str:
    return json.dumps(comparison.as_dict(), indent=2, default=str)


FORMATS = {"text": format_text, "markdown": format_markdown, "json": format_json}

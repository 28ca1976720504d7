"""``obstack-load trends``: run-over-run history per label or profile, with change points.

Per run: p95 per endpoint, pass or fail, duration. Per endpoint: the change points of its p95
series (docs/regressions.md). Only runs that ended are counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from obstack_load.analysis import series
from obstack_load.analysis.changepoints import ChangePoint, ChangePointSettings, change_points
from obstack_load.core import histogram as histograms
from obstack_load.results.queries import ENDED
from obstack_load.results.store import Store


@dataclass
class EndpointTrend:
    method: str
    name: str
    p95_ms: list[float | None]  # one per run, None where the run had no such request
    change_points: list[tuple[str, ChangePoint]] = field(default_factory=list)  # (run_id, point)
    judged: bool = True  # enough runs to look for a change point at all

    @property
    def runs(self) -> int:
        return sum(v is not None for v in self.p95_ms)


@dataclass
class Trends:
    where: series.HistoryFilter
    runs: list[dict]
    endpoints: list[EndpointTrend]
    min_runs: int = 2 * ChangePointSettings().min_segment

    @property
    def unjudged(self) -> list[EndpointTrend]:
        """Endpoints in too few runs for a change point to be found: no news is not news."""
        return [e for e in self.endpoints if not e.judged]

    @property
    def passed(self) -> int:
        return sum(1 for r in self.runs if r["exit_code"] == 0)

    @property
    def pass_rate(self) -> float | None:
        return self.passed / len(self.runs) if self.runs else None

    def as_dict(self) -> dict:
        return {
            "filter": self.where.__dict__,
            "runs": self.runs,
            "pass_rate": self.pass_rate,
            "min_runs": self.min_runs,
            "unjudged": [f"{e.method} {e.name}".strip() for e in self.unjudged],
            "endpoints": [
                {
                    "method": e.method,
                    "name": e.name,
                    "judged": e.judged,
                    "p95_ms": e.p95_ms,
                    "change_points": [
                        {"run_id": run_id, **point.as_dict()} for run_id, point in e.change_points
                    ],
                }
                for e in self.endpoints
            ],
        }


def trends(
    store: Store,
    where: series.HistoryFilter,
    settings: ChangePointSettings = ChangePointSettings(),  # noqa: B008  (frozen)
) -> Trends:
    runs = [r for r in series.history(store, where) if r["status"] in ENDED]
    for run in runs:
        run["duration_s"] = series.duration_s(run)
    p95 = series.run_percentiles(store, [r["run_id"] for r in runs])
    keys = sorted({k for by_key in p95.values() for k in by_key}, key=lambda k: (k[1], k[0]))
    endpoints = []
    for key in keys:
        values = [p95.get(r["run_id"], {}).get(key) for r in runs]
        trend = EndpointTrend(key[0], key[1], values)
        # A run without the endpoint is left out of its series, not read as zero.
        present = [(r["run_id"], v) for r, v in zip(runs, values, strict=True) if v is not None]
        values_only = [v for _, v in present]
        trend.judged = len(values_only) >= 2 * settings.min_segment
        for point in change_points(values_only, settings, histograms.bucket_width):
            trend.change_points.append((present[point.index][0], point))
        endpoints.append(trend)
    return Trends(where, runs, endpoints, 2 * settings.min_segment)


def format_text(result: Trends) -> str:
    where = result.where
    scope = ", ".join(
        f"{k} {v}" for k, v in (("label", where.label), ("profile", where.profile)) if v
    )
    if not result.runs:
        return f"no finished runs ({scope or 'all runs'})"
    durations = [r["duration_s"] for r in result.runs if r["duration_s"]]
    lines = [
        f"{len(result.runs)} runs ({scope or 'all runs'}): {result.passed} passed "
        f"({result.pass_rate * 100:.0f}%), duration {min(durations, default=0):.0f}-"
        f"{max(durations, default=0):.0f} s",
        f"  {'method':<7} {'name':<44} {'runs':>5} {'first p95':>9} {'last p95':>9}  change points",
    ]
    if result.unjudged:
        lines.insert(1, unjudged_line(result))
    for e in result.endpoints:
        values = [v for v in e.p95_ms if v is not None]
        points = "; ".join(
            f"run {run_id[:12]} {p.magnitude * 100:+.0f}% ({p.before:.0f} -> {p.after:.0f} ms, "
            f"p={p.p_value:.1e})"
            for run_id, p in e.change_points
        )
        if not e.judged:
            points = f"could not look: {len(values)} runs, fewer than {result.min_runs}"
        lines.append(
            f"  {e.method:<7} {e.name[:44]:<44} {len(values):>5} {values[0]:>9.0f} "
            f"{values[-1]:>9.0f}  {points or '-'}"
        )
    return "\n".join(lines)


def unjudged_line(result: Trends) -> str:
    """How many endpoints had too few runs to look for a change point, and which."""
    rows = result.unjudged
    names = ", ".join(f"{e.method} {e.name}".strip() for e in rows[:5])
    names += f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return (
        f"COULD NOT LOOK for change points in {len(rows)} of {len(result.endpoints)} "
        f"endpoints ({names}): fewer than {result.min_runs} runs each"
    )


def format_json(result: Trends) -> str:
    return json.dumps(result.as_dict(), indent=2, default=str)

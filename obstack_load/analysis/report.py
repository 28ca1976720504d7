"""``obstack-load report RUN``: one self-contained HTML file (inline SVG charts, inline CSS, no
script, nothing fetched) with the run's summary, ratings, thresholds, endpoints, charts over
time, resources and, with a baseline, the comparison.

Built from ``runs``, ``request_intervals``, ``user_counts``, ``system_metrics``, ``errors`` and
``threshold_results``; raw request rows are never read.
"""

from __future__ import annotations

import datetime
import time
from collections import defaultdict

import jinja2

from obstack_load import __version__
from obstack_load.analysis import bands, series
from obstack_load.analysis.charts import Chart, Line, svg
from obstack_load.analysis.compare import Comparison
from obstack_load.core import histogram as histograms
from obstack_load.results.queries import health_of, run_report
from obstack_load.results.store import Store

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("obstack_load.analysis", "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
)


def _rate(values: list[int], seconds: list[float]) -> list[float]:
    return [v / s if s else 0.0 for v, s in zip(values, seconds, strict=True)]


def timeline_charts(store: Store, run_id: str) -> list[Chart]:
    by_key = series.intervals(store, run_id)
    charts: list[Chart] = []
    total = by_key.get(series.TOTAL)
    if total:
        percentiles = {
            p: [histograms.percentile(h, c, p / 100) for h, c in zip(total.histograms, total.counts, strict=True)]
            for p in (50, 95, 99)
        }  # fmt: skip
        charts.append(Chart("Response time, all requests", "ms", [
            Line(f"p{p}", total.ts, values) for p, values in percentiles.items()
        ]))  # fmt: skip
        users = series.user_counts(store, run_id)
        charts.append(Chart("Requests/s and users", "requests/s", [
            Line("requests/s", total.ts, _rate(total.counts, total.seconds)),
            Line("users", [u["ts"] for u in users], [u["user_count"] for u in users],
                 right_axis=True, style="--"),
        ], right_label="users"))  # fmt: skip
        charts.append(Chart("Failures/s", "failures/s", [
            Line("failures/s", total.ts, _rate(total.failures, total.seconds)),
        ]))  # fmt: skip
    signals = defaultdict(lambda: defaultdict(float))  # signal -> ts -> items/s
    for (_method, name), found in by_key.items():
        signal = series.signal_of(name)
        if signal:
            for ts, items, seconds in zip(found.ts, found.items, found.seconds, strict=True):
                signals[signal][ts] += items / seconds if seconds else 0.0
    if signals:
        charts.append(Chart("OTLP items accepted/s", "items/s", [
            Line(signal, sorted(points), [points[t] for t in sorted(points)])
            for signal, points in sorted(signals.items())
        ]))  # fmt: skip
    nodes = defaultdict(list)
    for sample in series.system_metrics(store, run_id):
        nodes[(sample["role"], sample["node"])].append(sample)
    generator = {k: v for k, v in nodes.items() if k[0] != "target"}
    target = nodes.get(("target", "target"))
    if generator:
        charts.extend(_cpu_and_memory(generator, "per process"))
    if target:  # read through the run's source of target figures (figures/sampler.py)
        charts.extend(_cpu_and_memory({("target", ""): target}, "the target"))
    return [c for c in charts if not c.empty]


def _cpu_and_memory(nodes: dict[tuple[str, str], list[dict]], whose: str) -> list[Chart]:
    def line(role: str, node: str, samples: list[dict], value) -> Line:
        points = [(s["ts"], value(s)) for s in samples if value(s) is not None]
        return Line(f"{role} {node}".strip()[:40], [t for t, _ in points], [v for _, v in points])

    return [
        Chart(f"CPU, {whose} (100 = one core)", "% CPU", [
            line(role, node, samples, lambda s: s["cpu_percent"])
            for (role, node), samples in sorted(nodes.items())
        ]),
        Chart(f"Memory (RSS), {whose}", "MiB", [
            line(role, node, samples, lambda s: None if s["memory_rss_bytes"] is None
                 else s["memory_rss_bytes"] / 2**20)
            for (role, node), samples in sorted(nodes.items())
        ]),
    ]  # fmt: skip


def health_chart(data: dict) -> Chart | None:
    """Each monitor probe healthy (1) or not (0) over the run, the chaos fault marked on it."""
    probes = defaultdict(list)
    for sample in data.get("monitor_samples") or []:
        if not sample["probe"].startswith("series:"):  # a --monitor-series value, not health
            probes[sample["probe"]].append(sample)
    if not probes:
        return None
    # stacked a little apart, so that probes healthy at once do not hide each other
    lines = [
        Line(probe, [s["ts"] for s in samples],
             [(1.0 if s["healthy"] else 0.0) + index * 0.04 for s in samples], style="-")
        for index, (probe, samples) in enumerate(sorted(probes.items()))
    ]  # fmt: skip
    detail = ((data.get("chaos") or {}).get("detail")) or {}
    marks = [(detail[k], label) for k, label in (("fault_on_at", "fault on"),
             ("fault_off_at", "fault off")) if detail.get(k)]  # fmt: skip
    return Chart("Health monitor: probe healthy (1) or not (0)", "healthy", lines, marks=marks)


def target_rps_of(run: dict, given: float | None) -> float | None:
    """``--target-rps``, else the run's ``target_rps=N`` tag."""
    if given:
        return given
    for tag in run.get("tags") or []:
        key, _, value = str(tag).partition("=")
        if key == "target_rps":
            try:
                return float(value)
            except ValueError:
                return None
    return None


def build(
    store: Store,
    run_id: str,
    comparison: Comparison | None = None,
    target_rps: float | None = None,
) -> dict:
    """Everything the report shows, as plain data (``--json`` prints it)."""
    found = run_report(store, run_id)
    run, totals = found["run"], found["totals"]
    run["duration_s"] = series.duration_s(run)
    error_rate = totals["failures"] / totals["requests"] if totals["requests"] else None
    ratings = bands.rate_run(
        totals["p95_ms"], error_rate, totals["rps"], target_rps_of(run, target_rps)
    )
    for entry in found["requests"]:
        entry["rating"] = bands.P95_MS.rate(entry["p95_ms"])
        entry["error_rate"] = entry["failures"] / entry["requests"] if entry["requests"] else None
    return {
        **found,
        **health_of(store, run_id),
        "ratings": [r.__dict__ for r in ratings],
        "comparison": comparison.as_dict() if comparison else None,
    }


def render_html(store: Store, data: dict) -> str:
    run = data["run"]
    charts = [(chart.title, svg(chart)) for chart in timeline_charts(store, run["run_id"])]
    health = health_chart(data)
    if health is not None:
        charts.append((health.title, svg(health)))
    return TEMPLATES.get_template("report.html.j2").render(
        data=data,
        run=run,
        charts=charts,
        when=when,
        version=__version__,
        generated=when(time.time()),
    )


def when(ts: float | None) -> str:
    if not ts:
        return "-"
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

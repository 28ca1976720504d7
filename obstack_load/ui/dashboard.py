"""The test dashboard: load runs over time, comparisons, trends with change points, and imported
test suites' pass rates, durations, flaky and most-failed tests.

One Flask blueprint serves both homes: the "History" pages inside Locust's own web UI (mounted
at ``/history`` by ``history_ui``, behind Locust's login when ``--web-login`` is on) and the
standalone ``obstack-load dashboard``. It only reads the results database: one connection per
page, never the live run. Pages are server-rendered with the report's charts (inline SVG), so
they need no script and no network.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable

from flask import Blueprint, abort, request, url_for

from obstack_load.analysis import compare, history, report, series, trends
from obstack_load.analysis.charts import Chart, Line, svg
from obstack_load.analysis.report import TEMPLATES, when
from obstack_load.core.config import parse_duration
from obstack_load.core.errors import ObstackLoadError
from obstack_load.results.queries import RunNotFound, resolve_run
from obstack_load.results.store import Store

DEFAULT_SINCE = "30d"
MAX_LINES = 6  # labels or endpoints on one chart


def _since() -> tuple[str, float | None]:
    text = request.args.get("since") or DEFAULT_SINCE
    try:
        return text, time.time() - parse_duration(text)
    except ValueError:
        abort(400, f"since: {text!r} is not a duration such as 7d or 12h")


def _page(template: str, **context) -> str:
    return TEMPLATES.get_template(f"dashboard/{template}").render(when=when, url=url_for, **context)


def make_blueprint(
    open_store: Callable[[], Store], guard: Callable[[Callable], Callable] | None = None
) -> Blueprint:
    """``open_store`` opens the results database for reading; ``guard`` wraps every page
    (Locust's ``auth_required_if_enabled``, inside its web UI)."""
    pages = Blueprint("history", __name__)

    def page(rule: str):
        def register(view: Callable) -> Callable:
            def with_store(*args, **kwargs):
                store = open_store()
                try:
                    return view(store, *args, **kwargs)
                except RunNotFound as exc:
                    abort(404, str(exc))
                except ObstackLoadError as exc:
                    abort(400, str(exc))
                finally:
                    store.close()

            with_store.__name__ = view.__name__
            pages.add_url_rule(rule, view.__name__, guard(with_store) if guard else with_store)
            return view

        return register

    @page("/")
    def runs(store: Store) -> str:
        since_text, since = _since()
        where = series.HistoryFilter(
            request.args.get("label"), request.args.get("profile"), since, limit=500
        )
        found = history.load_runs(store, where)
        by_label: dict[str, list[dict]] = defaultdict(list)
        for run in found:
            by_label[f"{run['label'] or '-'} / {run['profile'] or '-'}"].append(run)
        busiest = sorted(by_label.items(), key=lambda item: -len(item[1]))[:MAX_LINES]
        chart = Chart("p95 per run, by label / profile", "ms", [
            Line(name, [r["started_at"] for r in rs], [r["p95_ms"] for r in rs], style="o-")
            for name, rs in busiest
        ])  # fmt: skip
        return _page(
            "runs.html.j2",
            runs=found[::-1],
            labels=history.labels(store),
            chart=None if chart.empty else svg(chart),
            since=since_text,
            where=where,
        )

    @page("/run/<run_id>")
    def run(store: Store, run_id: str) -> str:
        full = resolve_run(store, run_id)
        return report.render_html(store, report.build(store, full))

    @page("/compare")
    def comparison(store: Store) -> str:
        base, cand = request.args.get("baseline", ""), request.args.get("candidate", "")
        result = None
        if cand:
            cand_id = resolve_run(store, cand)
            base_id = (
                compare.auto_baseline(store, cand_id)
                if base in ("", "auto")
                else resolve_run(store, base)
            )
            result = compare.compare_runs(store, base_id, cand_id).as_dict()
        return _page("compare.html.j2", c=result, baseline=base, candidate=cand)

    @page("/trends")
    def trend(store: Store) -> str:
        since_text, since = _since()
        where = series.HistoryFilter(request.args.get("label"), request.args.get("profile"), since)
        result = trends.trends(store, where)
        starts = {r["run_id"]: r["started_at"] for r in result.runs}
        shown = sorted(result.endpoints, key=lambda e: (-len(e.change_points), e.name))[:MAX_LINES]
        chart = Chart("p95 per run, per endpoint (change points marked)", "ms", [
            Line(f"{e.method} {e.name}".strip()[:48], [r["started_at"] for r in result.runs], e.p95_ms, style="o-")
            for e in shown
        ], marks=[
            (starts[run_id], f"{p.magnitude * 100:+.0f}%") for e in shown for run_id, p in e.change_points
        ])  # fmt: skip
        return _page(
            "trends.html.j2",
            t=result,
            chart=None if chart.empty else svg(chart),
            since=since_text,
            labels=history.labels(store),
        )

    @page("/tests")
    def tests(store: Store) -> str:
        since_text, since = _since()
        suites = []
        for suite in history.suites(store):
            runs_ = history.suite_runs(store, suite, since)
            records = history.test_records(store, suite)
            x = [r["started_at"] for r in runs_]
            rates = Chart(f"{suite}: pass rate", "% passed", [
                Line("pass rate", x, [None if r["pass_rate"] is None else 100 * r["pass_rate"] for r in runs_], style="o-"),
            ])  # fmt: skip
            durations = Chart(f"{suite}: duration", "seconds", [
                Line("duration", x, [r["duration_s"] for r in runs_], style="o-"),
            ])  # fmt: skip
            suites.append({
                "name": suite,
                "runs": runs_[::-1],
                "rates": None if rates.empty else svg(rates),
                "durations": None if durations.empty else svg(durations),
                "flaky": history.flaky(records),
                "most_failed": history.most_failed(records),
            })  # fmt: skip
        return _page("tests.html.j2", suites=suites, since=since_text)

    return pages

"""``obstack-load compare``, ``report``, ``trends`` and ``dashboard``: reading runs back,
judging them against each other, and showing them over time (Locust-free)."""

from __future__ import annotations

import argparse
import contextlib
import json

from obstack_load.cli.common import (
    add_option,
    json_output,
    positive,
    reading,
    results_db,
    run_label,
)
from obstack_load.core.config import ConfigError


def _judge_settings(args: argparse.Namespace):
    from obstack_load.analysis.judge import JudgeSettings

    if not 0 < args.confidence < 1:
        raise ConfigError("--confidence", "", f"must be between 0 and 1, got {args.confidence}")
    return JudgeSettings(
        confidence=args.confidence,
        tolerance=args.tolerance / 100,
        min_samples=args.min_intervals,
        min_requests=args.min_requests,
        min_shift_ms=args.min_shift,
        against_the_rest=args.against_the_rest,
        strict=args.strict,
    )


def _compare(args: argparse.Namespace) -> int:
    from obstack_load.analysis.compare import FORMATS, compare_runs
    from obstack_load.results.queries import resolve_run

    store = reading(args)
    candidate = resolve_run(store, args.candidate)
    baseline = _baseline_for(store, candidate, args.baseline)
    comparison = compare_runs(
        store, baseline, candidate, args.metric, _judge_settings(args), args.warmup
    )
    print(FORMATS[args.format](comparison))
    return comparison.exit_code


def _baseline_for(store, candidate: str, ref: str) -> str:
    from obstack_load.analysis.compare import auto_baseline
    from obstack_load.results.queries import resolve_run

    return auto_baseline(store, candidate) if ref == "auto" else resolve_run(store, ref)


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from obstack_load.analysis import report
    from obstack_load.analysis.compare import compare_runs
    from obstack_load.results.queries import resolve_run

    store = reading(args)
    if args.period:
        return _digest(store, args)
    if not args.run:
        raise ConfigError(
            "report", "", "give a RUN (or --period daily|weekly for the quality report)"
        )
    run_id = resolve_run(store, args.run)
    comparison = None
    if args.baseline:
        baseline = _baseline_for(store, run_id, args.baseline)
        comparison = compare_runs(
            store, baseline, run_id, args.metric, _judge_settings(args), args.warmup
        )
    data = report.build(store, run_id, comparison, args.target_rps)
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return 0
    out = Path(args.html or f"results/report-{run_id[:12]}.html")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.render_html(store, data), encoding="utf-8")
    verdict = (
        f"; against {comparison.baseline['run_id'][:12]}: {comparison.verdict}"
        if comparison
        else ""
    )
    print(f"{out}: run {run_id[:12]}, {data['totals']['requests']} requests{verdict}")
    return 0


def _digest(store, args: argparse.Namespace) -> int:
    import base64
    from pathlib import Path

    from obstack_load.analysis import digest
    from obstack_load.analysis.charts import render

    data = digest.build(store, args.period)
    if args.email:
        settings = digest.SmtpSettings.from_environment()
        recipients = [a.strip() for a in ",".join(args.email).split(",") if a.strip()]
        digest.send(digest.message(data, settings.sender, recipients), settings)
        print(
            f"{digest.subject(data)}: sent to {', '.join(recipients)} via {settings.host}:{settings.port}"
        )
        return 0
    images = {
        name: "data:image/png;base64," + base64.b64encode(render(chart, "png")).decode()
        for name, chart in digest.charts(data).items()
    }
    out = Path(args.html or f"results/{args.period}-report.html")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(digest.render_html(data, images), encoding="utf-8")
    print(f"{out}: {digest.subject(data)}")
    return 0


def _since(text: str | None) -> float | None:
    import time

    from obstack_load.core.config import parse_duration

    if text is None:
        return None
    try:
        return time.time() - parse_duration(text)
    except ValueError as exc:
        raise ConfigError("--since", "", str(exc)) from None


def _trends(args: argparse.Namespace) -> int:
    from obstack_load.analysis import trends
    from obstack_load.analysis.changepoints import ChangePointSettings
    from obstack_load.analysis.series import HistoryFilter

    where = HistoryFilter(args.run_label, args.profile, _since(args.since), args.limit)
    settings = ChangePointSettings(max_pvalue=args.max_pvalue, min_magnitude=args.min_change / 100)
    result = trends.trends(reading(args), where, settings)
    print(trends.format_json(result) if args.json else trends.format_text(result))
    return 0


def add_judge_options(parser: argparse.ArgumentParser) -> None:
    from obstack_load.analysis.judge import JudgeSettings
    from obstack_load.analysis.series import METRICS

    defaults = JudgeSettings()
    parser.add_argument(
        "--metric",
        choices=METRICS,
        default="mean",
        help="per-interval latency to compare (default mean: the steadiest per interval)",
    )
    parser.add_argument(
        "--tolerance",
        type=positive(float),
        default=defaults.tolerance * 100,
        metavar="PERCENT",
        help=f"a shift whose whole interval stays inside +-PERCENT is 'same' "
        f"(default {defaults.tolerance * 100:g})",
    )
    parser.add_argument(
        "--min-shift",
        type=positive(float),
        default=defaults.min_shift_ms,
        metavar="MS",
        help=f"a shift whose interval stays inside +-MS is 'same' (default {defaults.min_shift_ms:g})",
    )
    parser.add_argument(
        "--against-the-rest",
        action="store_true",
        help="also judge each endpoint after dividing out the shift every other endpoint shares "
        "(for runs on machines whose load varies; it costs power while one run's was busier)",
    )
    parser.add_argument(
        "--confidence",
        type=float,
        default=defaults.confidence,
        help=f"of the shift's interval (default {defaults.confidence:g})",
    )
    parser.add_argument(
        "--min-intervals",
        type=positive(int),
        default=defaults.min_samples,
        metavar="N",
        help="fewer intervals in either run: judged on every request's response time instead "
        f"(default {defaults.min_samples})",
    )
    parser.add_argument(
        "--min-requests",
        type=positive(int),
        default=defaults.min_requests,
        metavar="N",
        help="and fewer than N requests on a side as well (or too few for the interval's "
        f"confidence): 'could not judge' (default {defaults.min_requests})",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit code 3 when any endpoint could not be judged (by default only when the runs "
        "could not be judged at all: all requests together, or every endpoint)",
    )
    parser.add_argument(
        "--warmup",
        type=positive(float),
        default=0.0,
        metavar="SECONDS",
        help="leave out each run's first SECONDS (default 0)",
    )


def _dashboard(args: argparse.Namespace) -> int:
    # werkzeug's threaded server, as Flask's own: enough for a read-only internal dashboard, and
    # it keeps this command free of gevent (a WSGI server of its own would be a dependency more)
    from flask import Flask, redirect
    from werkzeug.serving import make_server

    from obstack_load.results.store import open_for_reading
    from obstack_load.ui.dashboard import make_blueprint

    reading(args).close()  # a bad --results-db is one line now, not an error page later
    app = Flask("obstack-load-dashboard")
    app.register_blueprint(
        make_blueprint(lambda: open_for_reading(args.results_db)), url_prefix="/history"
    )
    app.add_url_rule("/", "root", lambda: redirect("/history/"))
    import socket

    try:  # werkzeug prints two lines of its own and exits 1 on a taken port; ours is one, exit 2
        with socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET) as probe:
            probe.bind((args.host, args.port))
    except OSError as exc:
        raise ConfigError(
            "--port", "", f"cannot listen on {args.host}:{args.port}: {exc.strerror}"
        ) from None
    server = make_server(args.host, args.port, app, threaded=True)
    print(f"obstack-load dashboard on http://{args.host}:{server.server_port}/history/", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the way to stop it
        server.serve_forever()
    return 0


def register(commands) -> None:
    compare = commands.add_parser(
        "compare",
        parents=[results_db()],
        help="is the candidate run better, the same or worse than the baseline, per endpoint",
        description="Compare two runs endpoint by endpoint: a verdict (better, same, worse), "
        "the effect with its confidence interval. Exit code 0: nothing got worse; 1: something "
        "got worse; 3: nothing judged got worse, but the runs could not be judged (too few "
        "requests; with --strict, any endpoint); 2: bad input. Method and error rates: docs/regressions.md.",
    )
    compare.add_argument("baseline", help="run id, unique prefix, 'latest' or 'auto' (the last "
                         "passing run with the candidate's label and profile)")  # fmt: skip
    compare.add_argument("candidate", help="run id, unique prefix or 'latest'")
    compare.add_argument(
        "--format", choices=("text", "markdown", "json"), default="text", help="default text"
    )
    add_judge_options(compare)
    compare.set_defaults(func=_compare)

    report = commands.add_parser(
        "report",
        parents=[results_db(), json_output("print the report's data as JSON")],
        help="one self-contained HTML report of a run, optionally against a baseline",
        description="Write one self-contained HTML file (works offline): summary, SCALE-001 "
        "ratings, thresholds, endpoints, charts over time, resources and, with --baseline, the "
        "comparison.",
    )
    report.add_argument("run", nargs="?", help="run id, unique prefix or 'latest'")
    report.add_argument(
        "--period",
        choices=("daily", "weekly"),
        help="instead of one run: the quality report of the last day or week (load runs, "
        "change points, test suites, worst endpoints)",
    )
    report.add_argument(
        "--email",
        action="append",
        metavar="TO",
        help="with --period: e-mail it (repeatable; SMTP from OBSTACK_SMTP_HOST, _PORT, _USER, "
        "_PASSWORD, _FROM, _SECURITY=none|starttls|ssl)",
    )
    report.add_argument("--baseline", metavar="RUN|auto", help="compare against this run "
                        "('auto': the last passing run with the same label and profile)")  # fmt: skip
    add_option(report, "--html", "--out", dest="html", metavar="PATH",
               help="the HTML file (default results/report-RUN.html, or "
               "results/PERIOD-report.html)")  # fmt: skip
    report.add_argument("--target-rps", type=positive(float), help="throughput target for the "
                        "rating (default: the run's target_rps=N tag)")  # fmt: skip
    add_judge_options(report)
    report.set_defaults(func=_report)

    dashboard = commands.add_parser(
        "dashboard",
        parents=[results_db()],
        help="the test dashboard: runs, comparisons, trends and test suites over time",
        description="Serve the dashboard (the web UI's History pages) on its own. It only reads "
        "the results database.",
    )
    dashboard.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)"
    )
    dashboard.add_argument(
        "--port", type=positive(int), default=8090, help="port; 0 takes a free one (default 8090)"
    )
    dashboard.set_defaults(func=_dashboard)

    from obstack_load.analysis.changepoints import ChangePointSettings

    cp_defaults = ChangePointSettings()
    trends = commands.add_parser(
        "trends",
        parents=[results_db(), json_output(), run_label("only runs with this --run-label")],
        help="run-over-run history per label or profile, with change points",
        description="History of finished runs: p95 per endpoint per run, the pass rate, the "
        "durations, and change points (docs/regressions.md).",
    )
    trends.add_argument("--profile", help="only runs of this profile (the --config file's name)")
    trends.add_argument("--since", metavar="AGE", help="only runs started within AGE, e.g. 30d")
    trends.add_argument(
        "--limit", type=positive(int), default=1000, help="newest N runs (default 1000)"
    )
    trends.add_argument(
        "--max-pvalue",
        type=float,
        default=cp_defaults.max_pvalue,
        help=f"a change point's t-test p-value must be below this (default {cp_defaults.max_pvalue:g})",
    )
    trends.add_argument(
        "--min-change",
        type=positive(float),
        default=cp_defaults.min_magnitude * 100,
        metavar="PERCENT",
        help=f"smaller shifts are not reported (default {cp_defaults.min_magnitude * 100:g})",
    )
    trends.set_defaults(func=_trends)

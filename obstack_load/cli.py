"""The ``obstack-load`` command: the reference platform, the tenants, and the results database.

Each subcommand has ``--help``. Load tests themselves run through ``locust --config``; this
command holds what Locust does not.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Sequence

from obstack_load import __version__
from obstack_load.config import ConfigError
from obstack_load.errors import ObstackLoadError


def _platform(args: argparse.Namespace) -> int:
    # The platform alone: nothing of the Locust side is imported (no gevent monkey-patching).
    from obstack_load.platform.server import serve
    from obstack_load.platform.settings import PlatformSettings

    serve(PlatformSettings(**{f.name: getattr(args, f.name) for f in _platform_fields()}))
    return 0


def _platform_fields() -> list[dataclasses.Field]:
    from obstack_load.platform.settings import PlatformSettings

    return [f for f in dataclasses.fields(PlatformSettings) if f.metadata.get("option")]


def add_platform_options(parser: argparse.ArgumentParser) -> None:
    """One option per ``PlatformSettings`` field that names one: its default, type and help."""
    for spec in _platform_fields():
        kind = type(spec.default)
        text = spec.metadata["help"]
        if spec.default is not None:
            text += (
                f" (default {spec.default:g})" if kind is float else f" (default {spec.default})"
            )
        if kind is bool:  # a switch
            parser.add_argument(
                f"--{spec.metadata['option']}", dest=spec.name, action="store_true",
                default=spec.default, help=spec.metadata["help"],
            )  # fmt: skip
            continue
        parser.add_argument(
            f"--{spec.metadata['option']}",
            dest=spec.name,
            default=spec.default,
            type=positive(kind) if kind in (int, float) else str,
            metavar=spec.metadata["metavar"] or ("N" if kind is int else None),
            help=text,
        )


def _tenants(args: argparse.Namespace) -> int:
    from obstack_load.tenants import load_population

    population = load_population(args.tenants)
    if args.json:
        print(
            json.dumps(
                {"seed": population.seed, "tenants": [t.secret_dict() for t in population.tenants]},
                indent=2,
            )
        )
        return 0
    print(f"{len(population.tenants)} tenants from {population.source} (seed {population.seed})")
    print(f"{'tenant':<14} {'weight':>7} {'users':>6} {'services':>9} {'hosts':>6}")
    for tenant in population.tenants:
        print(
            f"{tenant.tenant_id:<14} {tenant.weight:>7.3f} {len(tenant.accounts):>6} "
            f"{len(tenant.services):>9} {len(tenant.hosts):>6}"
        )
    print("credentials are hidden; use --json to print them for a test environment")
    return 0


def _reading(args: argparse.Namespace):
    from obstack_load.results.store import open_for_reading

    return open_for_reading(args.db)


def _db_migrate(args: argparse.Namespace) -> int:
    from obstack_load.results.schema import LATEST_VERSION
    from obstack_load.results.store import open_migrated

    store = open_migrated(args.db)
    print(f"{store.location}: schema at version {LATEST_VERSION}")
    return 0


def _when(ts: float | None) -> str:
    import datetime

    return (
        datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        if ts
        else "-"
    )


def _runs_list(args: argparse.Namespace) -> int:
    from obstack_load.results.queries import list_runs

    runs = list_runs(_reading(args), args.limit)
    if args.json:
        print(json.dumps(runs, indent=2, default=str))
        return 0
    print(
        f"{'run':<12} {'started (UTC)':<19} {'status':<9} {'exit':>4} {'requests':>9} {'failures':>8}  label / profile"
    )
    for run in runs:
        flags = " generator-bound" if run["generator_bound"] else ""
        print(
            f"{run['run_id'][:12]:<12} {_when(run['started_at']):<19} {run['status'] or '-':<9} "
            f"{'-' if run['exit_code'] is None else run['exit_code']:>4} {run['total_requests'] or 0:>9} "
            f"{run['total_failures'] or 0:>8}  {run['label'] or '-'} / {run['profile'] or '-'}{flags}"
        )
    return 0


def _runs_show(args: argparse.Namespace) -> int:
    from obstack_load.results.queries import resolve_run, run_report

    store = _reading(args)
    report = run_report(store, resolve_run(store, args.run))
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    run = report["run"]
    print(
        f"run {run['run_id']}  {run['label'] or ''}  profile {run['profile'] or '-'}  host {run['host']}"
    )
    print(
        f"  {_when(run['started_at'])} -> {_when(run['ended_at'])} UTC, status {run['status']}, exit code {run['exit_code']}"
    )
    print(
        f"  thresholds {run['thresholds_verdict'] or '-'}, dropped rows {run['dropped_rows'] or 0}, raw rows {report['raw_rows']}"
    )
    if run["generator_bound"]:
        print(
            f"  GENERATOR-BOUND: a load generator peaked at {run['max_cpu_percent']:.0f}% CPU; latencies measure it"
        )
    print(
        f"  {'method':<7} {'name':<44} {'count':>8} {'fails':>6} {'rps':>8} {'p50':>6} {'p95':>6} {'p99':>6}"
    )
    for entry in [*report["requests"], report["totals"]]:
        print(
            f"  {entry['method']:<7} {entry['name'][:44]:<44} {entry['requests']:>8} {entry['failures']:>6} "
            f"{'-' if entry['rps'] is None else format(entry['rps'], '.1f'):>8} {entry['p50_ms'] if entry['p50_ms'] is not None else '-':>6} "
            f"{entry['p95_ms'] if entry['p95_ms'] is not None else '-':>6} {entry['p99_ms'] if entry['p99_ms'] is not None else '-':>6}"
        )
    for error in report["errors"][:10]:
        print(
            f"  error x{error['occurrences']}: {error['method']} {error['name']}: {error['error'][:100]}"
        )
    return 0


def _results_replay(args: argparse.Namespace) -> int:
    from obstack_load.results.spool import replay, spool_header
    from obstack_load.results.store import MASK, open_migrated

    header = spool_header(args.spool)
    target = args.db or (header.location if MASK not in header.location else None)
    if not target:
        raise ConfigError(
            "--db", "", f"{args.spool} was meant for {header.location}; give --db with its password"
        )
    store = open_migrated(target)
    written, skipped, rows = replay(store, args.spool)
    print(
        f"{store.location}: run {header.run_id}: {written} batches ({rows} rows) written, "
        f"{skipped} already there"
    )
    return 0


def _judge_settings(args: argparse.Namespace):
    from obstack_load.analysis.judge import JudgeSettings

    if not 0 < args.confidence < 1:
        raise ConfigError("--confidence", "", f"must be between 0 and 1, got {args.confidence}")
    return JudgeSettings(
        confidence=args.confidence,
        tolerance=args.tolerance / 100,
        min_samples=args.min_intervals,
        min_shift_ms=args.min_shift,
        against_the_rest=args.against_the_rest,
    )


def _compare(args: argparse.Namespace) -> int:
    from obstack_load.analysis.compare import FORMATS, compare_runs
    from obstack_load.results.queries import resolve_run

    store = _reading(args)
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

    store = _reading(args)
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
    out = Path(args.out or f"results/report-{run_id[:12]}.html")
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
    out = Path(args.out or f"results/{args.period}-report.html")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(digest.render_html(data, images), encoding="utf-8")
    print(f"{out}: {digest.subject(data)}")
    return 0


def _since(text: str | None) -> float | None:
    import time

    from obstack_load.config import parse_duration

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

    where = HistoryFilter(args.label, args.profile, _since(args.since), args.limit)
    settings = ChangePointSettings(max_pvalue=args.max_pvalue, min_magnitude=args.min_change / 100)
    result = trends.trends(_reading(args), where, settings)
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
        help=f"fewer intervals in either run: no verdict (default {defaults.min_samples})",
    )
    parser.add_argument(
        "--warmup",
        type=positive(float),
        default=0.0,
        metavar="SECONDS",
        help="leave out each run's first SECONDS (default 0)",
    )


def _db_seed(args: argparse.Namespace) -> int:
    from obstack_load.platform.database import SeedPlan, seed
    from obstack_load.results.store import redact
    from obstack_load.tenants import load_population

    if not args.db:
        raise ConfigError("--db", "", "give the platform database's postgresql:// DSN")
    population = load_population(args.tenants)
    where = redact(args.db)
    print(f"{where}: seeding {args.rows:,} metric points over {args.days} days "
          f"for {len(population.tenants)} tenants", flush=True)  # fmt: skip

    def progress(done: int, seconds: float) -> None:
        print(f"  {done:>12,} points  {done / seconds:>10,.0f} points/s", flush=True)

    try:
        written, seconds = seed(args.db, population, SeedPlan(args.rows, args.days), progress)
    except Exception as exc:  # psycopg's errors name the server, never the password
        raise ConfigError("--db", "", f"{where}: {' '.join(str(exc).split())}") from None
    print(f"{where}: {written:,} points in {seconds:.1f} s ({written / seconds:,.0f} points/s)")
    return 0


def _results_import_junit(args: argparse.Namespace) -> int:
    from obstack_load.results import junit
    from obstack_load.results.store import open_migrated

    suite_run = junit.read(args.files, args.suite, args.label or "", args.git_revision)
    store = open_migrated(args.db)
    stored = store.import_suite(suite_run.row(), suite_run.case_rows())
    counts = ", ".join(f"{suite_run.count(o)} {o}" for o in junit.OUTCOMES)
    what = "imported" if stored else "already imported; nothing added"
    print(
        f"{store.location}: suite {args.suite} run {suite_run.suite_run_id[:12]}: "
        f"{len(suite_run.cases)} tests ({counts}) in {suite_run.duration_s:.1f} s: {what}"
    )
    return 0


def _proxy(args: argparse.Namespace) -> int:
    from obstack_load.chaos.proxy_api import parse_proxy, serve

    try:
        initial = [parse_proxy(text) for text in args.proxy]
    except ValueError as exc:
        print(f"obstack-load proxy: {exc}", file=sys.stderr)
        return 2
    serve(args.host, args.port, initial)
    return 0


def _supervise(args: argparse.Namespace) -> int:
    import signal

    from obstack_load.chaos.faults import Supervisor

    command = args.after_dashes
    if not command:
        print("obstack-load supervise: give the command to run after --", file=sys.stderr)
        return 2
    supervisor = Supervisor(command, ready_line=args.ready_line, restart_delay=args.restart_delay,
                            pidfile=args.pidfile, echo=True)  # fmt: skip
    for caught in (signal.SIGTERM, signal.SIGINT):
        signal.signal(caught, lambda *_: supervisor.request_stop())
    return supervisor.keep_running() or 0


def _dashboard(args: argparse.Namespace) -> int:
    # werkzeug's threaded server, as Flask's own: enough for a read-only internal dashboard, and
    # it keeps this command free of gevent (a WSGI server of its own would be a dependency more)
    from flask import Flask, redirect
    from werkzeug.serving import make_server

    from obstack_load.dashboard import make_blueprint
    from obstack_load.results.store import open_for_reading

    _reading(args).close()  # a bad --db is one line now, not an error page later
    app = Flask("obstack-load-dashboard")
    app.register_blueprint(make_blueprint(lambda: open_for_reading(args.db)), url_prefix="/history")
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


def _profiles_check(args: argparse.Namespace) -> int:
    import glob

    from obstack_load.profiles import check_profile

    paths = args.profiles or sorted(glob.glob("config/*.conf"))
    failures = 0
    for path in paths:
        try:
            check = check_profile(path)
        except ConfigError as exc:
            failures += 1
            print(f"FAIL {exc}")
            continue
        load = (
            f"{check.stages} stages ({check.shape})"
            if check.stages
            else f"{check.users} users for {check.run_time}s"
        )
        rate = f", {check.arrival_rate:g} iterations/s" if check.arrival_rate else ""
        print(
            f"ok   {path}: {check.locustfile} {', '.join(check.user_classes)}; {load}{rate}; {len(check.thresholds)} thresholds"
        )
    return 1 if failures else 0


def positive(kind: type):
    def parse(text: str):
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
        return value

    return parse


def _module_command(commands, name: str, module, help: str) -> None:
    """A command that a module of its own holds (``add_arguments`` and ``run``, which runs
    Locust with ``args.after_dashes``), described by its docstring's second paragraph."""
    parser = commands.add_parser(
        name, help=help, description=module.__doc__.split("\n\n")[1].replace("\n", " ")
    )
    module.add_arguments(parser)
    # what follows -- goes to the Locust run the command starts (main splits it off)
    parser.epilog = "After --, more Locust options: ... -- --html report.html"
    parser.set_defaults(func=module.run, after_dashes=[])


def _group(commands, name: str, help: str, description: str):
    """A command made of subcommands (``obstack-load db migrate``); returns its subparsers."""
    group = commands.add_parser(name, help=help, description=description)
    return group.add_subparsers(dest=f"{name}_command", required=True, metavar="SUBCOMMAND")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="obstack-load", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"obstack-load {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    platform = commands.add_parser(
        "platform",
        help="run the reference Obstack platform",
        description="Run the reference Obstack platform (the target of the bundled tests).",
    )
    add_platform_options(platform)
    platform.set_defaults(func=_platform)

    tenants = commands.add_parser(
        "tenants",
        help="print the tenant population",
        description="Print the tenant population; --json includes credentials, for test environments.",
    )
    tenants.add_argument(
        "--tenants", metavar="FILE", help="tenants file (default config/tenants.yaml)"
    )
    tenants.add_argument("--json", action="store_true", help="print JSON, credentials included")
    tenants.set_defaults(func=_tenants)

    db_help = "postgresql:// DSN or SQLite path (default $OBSTACK_RESULTS_DB or results/obstack-results.db)"
    default_db = os.environ.get("OBSTACK_RESULTS_DB")
    runs_commands = _group(
        commands,
        "runs",
        "list and show runs in the results database",
        "Runs in the results database.",
    )
    runs_list = runs_commands.add_parser(
        "list", help="recent runs, newest first", description="Recent runs, newest first."
    )
    runs_list.add_argument("--db", default=default_db, help=db_help)
    runs_list.add_argument("--json", action="store_true", help="print JSON")
    runs_list.add_argument("--limit", type=int, default=50, help="how many runs (default 50)")
    runs_list.set_defaults(func=_runs_list)
    runs_show = runs_commands.add_parser(
        "show",
        help="one run: totals and per request name",
        description="One run: totals, and per request name count, failures, rps, p50, p95, p99.",
    )
    runs_show.add_argument("run", help="run id, a unique prefix of it, or 'latest'")
    runs_show.add_argument("--db", default=default_db, help=db_help)
    runs_show.add_argument("--json", action="store_true", help="print JSON")
    runs_show.set_defaults(func=_runs_show)

    compare = commands.add_parser(
        "compare",
        help="is the candidate run better, the same or worse than the baseline, per endpoint",
        description="Compare two runs endpoint by endpoint: a verdict (better, same, worse), "
        "the effect with its confidence interval, and the exit code 1 when anything got worse. "
        "Method and error rates: docs/regressions.md.",
    )
    compare.add_argument("baseline", help="run id, unique prefix, 'latest' or 'auto' (the last "
                         "passing run with the candidate's label and profile)")  # fmt: skip
    compare.add_argument("candidate", help="run id, unique prefix or 'latest'")
    compare.add_argument("--db", default=default_db, help=db_help)
    compare.add_argument(
        "--format", choices=("text", "markdown", "json"), default="text", help="default text"
    )
    add_judge_options(compare)
    compare.set_defaults(func=_compare)

    report = commands.add_parser(
        "report",
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
    report.add_argument("--out", help="the HTML file (default results/report-RUN.html)")
    report.add_argument("--target-rps", type=positive(float), help="throughput target for the "
                        "rating (default: the run's target_rps=N tag)")  # fmt: skip
    report.add_argument("--json", action="store_true", help="print the report's data as JSON")
    report.add_argument("--db", default=default_db, help=db_help)
    add_judge_options(report)
    report.set_defaults(func=_report)

    dashboard = commands.add_parser(
        "dashboard",
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
    dashboard.add_argument("--db", default=default_db, help=db_help)
    dashboard.set_defaults(func=_dashboard)

    proxy = commands.add_parser(
        "proxy",
        help="run the fault proxy (Toxiproxy's toxics and control API)",
        description="Run the fault proxy: TCP proxies with Toxiproxy's toxics, created and "
        "changed through Toxiproxy's HTTP control API (docs/chaos.md).",
    )
    proxy.add_argument("--host", default="127.0.0.1", help="the API's address (default 127.0.0.1)")
    proxy.add_argument("--port", type=positive(int), default=8474,
                       help="the API's port; 0 takes a free one (default 8474, Toxiproxy's)")  # fmt: skip
    proxy.add_argument("--proxy", action="append", default=[], metavar="NAME=LISTEN=UPSTREAM",
                       help="a proxy to make at start (repeatable), e.g. "
                       "db=127.0.0.1:6432=127.0.0.1:5432")  # fmt: skip
    proxy.set_defaults(func=_proxy)

    supervise = commands.add_parser(
        "supervise",
        help="run a command and restart it whenever it dies, as a pod's controller does",
        description="Run COMMAND, write its process id to --pidfile, and start it again "
        "--restart-delay seconds after it dies (a chaos experiment's kill_process finds it "
        'there): the "pod deleted" fault (docs/chaos.md).',
    )
    supervise.add_argument("--pidfile", required=True, help="where the running process's id goes")
    supervise.add_argument("--restart-delay", type=positive(float), default=0.0,
                           help="seconds between a death and the restart (default 0)")  # fmt: skip
    supervise.add_argument("--ready-line", default="", metavar="TEXT",
                           help="say when the process is ready: a line of its output holds TEXT")  # fmt: skip
    supervise.set_defaults(after_dashes=[])  # the command to run, after --
    supervise.set_defaults(func=_supervise)

    from obstack_load.chaos import command as chaos_command

    chaos_commands = _group(
        commands, "chaos", "chaos experiments under load",
        "Chaos experiments in Chaos Toolkit's format, run under load and judged (docs/chaos.md).",
    )  # fmt: skip
    _module_command(chaos_commands, "run", chaos_command,
                    "run an experiment under load and print its verdict")  # fmt: skip

    from obstack_load.capacity import command as capacity_command

    _module_command(commands, "capacity", capacity_command,
                    "find the highest load that meets the SLOs, the knee, and what saturated first")  # fmt: skip

    from obstack_load.analysis.changepoints import ChangePointSettings

    cp_defaults = ChangePointSettings()
    trends = commands.add_parser(
        "trends",
        help="run-over-run history per label or profile, with change points",
        description="History of finished runs: p95 per endpoint per run, the pass rate, the "
        "durations, and change points (docs/regressions.md).",
    )
    trends.add_argument("--label", help="only runs with this --run-label")
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
    trends.add_argument("--db", default=default_db, help=db_help)
    trends.add_argument("--json", action="store_true", help="print JSON")
    trends.set_defaults(func=_trends)

    profiles_commands = _group(
        commands, "profiles", "check load profiles", "Load profiles in config/."
    )
    check = profiles_commands.add_parser(
        "check",
        help="parse and validate profiles without running them",
        description="Parse and validate profiles (default config/*.conf).",
    )
    check.add_argument("profiles", nargs="*", help="profile files (default config/*.conf)")
    check.set_defaults(func=_profiles_check)

    db_commands = _group(
        commands, "db", "results database maintenance", "Results database maintenance."
    )
    migrate = db_commands.add_parser(
        "migrate",
        help="create or upgrade the schema",
        description="Create or upgrade the results schema.",
    )
    migrate.add_argument("--db", default=default_db, help=db_help)
    migrate.set_defaults(func=_db_migrate)
    seed = db_commands.add_parser(
        "seed",
        help="fill the reference platform's PostgreSQL database with a multi-tenant history",
        description="Create the platform's schema in a PostgreSQL database and COPY a realistic "
        "history into it: the tenant population (Zipf sizes), their users, dashboards, alerts, "
        "metric series, and --rows metric points over --days days.",
    )
    seed.add_argument("--db", help="the platform database's postgresql:// DSN")
    seed.add_argument(
        "--rows", type=positive(int), default=10_000_000, help="metric points (default 10,000,000)"
    )
    seed.add_argument("--days", type=positive(int), default=7, help="history length (default 7)")
    seed.add_argument(
        "--tenants", metavar="FILE", help="tenants file (default config/tenants.yaml)"
    )
    seed.set_defaults(func=_db_seed)

    results_commands = _group(
        commands,
        "results",
        "spools and imported test results",
        "Rows the results database never took, and other test suites' results.",
    )
    replay = results_commands.add_parser(
        "replay",
        help="load a spool into the results database, exactly once",
        description="Load a spool (written when the results database stayed away at the end of "
        "a run) into the database. A second replay of the same spool adds nothing.",
    )
    replay.add_argument("spool", help="the spool file the run named")
    replay.add_argument(
        "--db",
        default=default_db,
        help="postgresql:// DSN or SQLite path (default $OBSTACK_RESULTS_DB, else the spool's own "
        "database when it needs no password)",
    )
    replay.set_defaults(func=_results_replay)
    junit_import = results_commands.add_parser(
        "import-junit",
        help="store other test suites' JUnit XML results beside the load runs",
        description="Store a test suite's JUnit XML (pytest --junitxml, and most runners) in the "
        "results database: pass, fail, error and skip counts, each test's outcome and duration, "
        "the suite's duration and git revision. Several files (shards) make one suite run; the "
        "same files imported twice are stored once.",
    )
    junit_import.add_argument("files", nargs="+", metavar="FILE", help="JUnit XML file(s)")
    junit_import.add_argument("--suite", required=True, help="the suite's name, e.g. e2e")
    junit_import.add_argument("--label", help="a label for this suite run, e.g. nightly")
    junit_import.add_argument(
        "--git-revision", help="default: git rev-parse HEAD in the current directory"
    )
    junit_import.add_argument("--db", default=default_db, help=db_help)
    junit_import.set_defaults(func=_results_import_junit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Split at "--" before argparse sees it: it cannot take a positional argument followed by
    # a variable number of others that start with a dash (``capacity ... -- --html x``).
    argv = list(sys.argv[1:] if argv is None else argv)
    passed_on: list[str] = []
    if "--" in argv:
        argv, passed_on = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    parser = build_parser()
    args = parser.parse_args(argv)
    if passed_on:
        if not hasattr(args, "after_dashes"):
            parser.error(f"unrecognized arguments: -- {' '.join(passed_on)}")
        args.after_dashes = passed_on
    try:
        code = args.func(args)
        sys.stdout.flush()  # here, so that a reader that left is caught below
        return code
    except ObstackLoadError as exc:
        print(f"obstack-load: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `runs show latest | head`: the reader left; stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command its pipe stopped


if __name__ == "__main__":
    sys.exit(main())

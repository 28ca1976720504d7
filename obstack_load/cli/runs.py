"""``obstack-load runs list|show``: the runs in the results database."""

from __future__ import annotations

import argparse
import json

from obstack_load.cli.common import group, json_output, reading, results_db


def _when(ts: float | None) -> str:
    import datetime

    return (
        datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        if ts
        else "-"
    )


def _runs_list(args: argparse.Namespace) -> int:
    from obstack_load.results.queries import list_runs

    runs = list_runs(reading(args), args.limit)
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

    store = reading(args)
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


def register(commands) -> None:
    runs_commands = group(
        commands, "runs", "list and show runs in the results database",
        "Runs in the results database.",
    )  # fmt: skip
    runs_list = runs_commands.add_parser(
        "list", parents=[results_db(), json_output()],
        help="recent runs, newest first", description="Recent runs, newest first.",
    )  # fmt: skip
    runs_list.add_argument("--limit", type=int, default=50, help="how many runs (default 50)")
    runs_list.set_defaults(func=_runs_list)
    runs_show = runs_commands.add_parser(
        "show", parents=[results_db(), json_output()],
        help="one run: totals and per request name",
        description="One run: totals, and per request name count, failures, rps, p50, p95, p99.",
    )  # fmt: skip
    runs_show.add_argument("run", help="run id, a unique prefix of it, or 'latest'")
    runs_show.set_defaults(func=_runs_show)

"""``obstack-load capacity``: a capacity search as one command.

It runs Locust (as a child process, so this command imports no Locust) with
``--capacity-search`` on the given locustfile, standalone or with ``--workers N`` local worker
processes sharing the rate, prints the finding, and with ``--compare-scaling HOST`` searches a
second target the same way and reports the scaling ratio: 9.3's "linear scaling confirmed with
additional resources".

Exit codes: 0 a capacity was found (or the maximum held), 1 no rate held every SLO or Locust
failed, 7 the generator was the limit (no capacity is claimed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from obstack_load.core.vocabulary import add_option, add_run_options, run_options

EXIT_GENERATOR_BOUND = 7  # not Locust's 5 (results incomplete): a different thing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--locustfile", "-f", required=True, help="the locustfile to drive")
    parser.add_argument("--host", required=True, help="the target's base URL")
    # the names of Locust's own --capacity-* options, which these become
    add_option(parser, "--capacity-slo", "--slo", action="append", default=[], metavar="EXPR",
               help="an SLO as a threshold expression: p(95)<500, rate<0.01 (repeatable; "
               "at least one)")  # fmt: skip
    add_option(parser, "--capacity-start", "--start", type=float, default=50.0,
               help="first offered rate, /s (default 50)")  # fmt: skip
    add_option(parser, "--capacity-max", "--max", type=float, default=20_000.0,
               help="highest offered rate, /s (default 20000)")  # fmt: skip
    add_option(parser, "--capacity-step-time", "--step-time", type=float, default=20.0,
               help="seconds measured per step (default 20)")  # fmt: skip
    add_option(parser, "--capacity-settle", "--settle", type=float, default=5.0,
               help="seconds before measuring (default 5)")  # fmt: skip
    add_option(parser, "--capacity-precision", "--precision", type=float, default=0.05,
               help="stop when the bracket is within this fraction (default 0.05)")  # fmt: skip
    parser.add_argument("--users", type=int, default=200, help="the pool of virtual users")
    parser.add_argument("--workers", type=int, default=0,
                        help="local worker processes sharing the rate (default: standalone)")  # fmt: skip
    add_option(parser, "--capacity-report", "--report", default="results/capacity.html",
               help="the HTML report (default results/capacity.html)")  # fmt: skip
    add_run_options(parser)
    parser.add_argument("--prometheus", metavar="URL",
                        help="read the target's CPU, pool and throttling from this Prometheus "
                        "(Locust's --prometheus; default: the target's own /metrics)")  # fmt: skip
    parser.add_argument("--prometheus-figures", metavar="FILE",
                        help="the figures file for --prometheus (default: the reference "
                        "platform's, config/figures/reference-platform.yaml)")  # fmt: skip
    parser.add_argument("--compare-scaling", metavar="HOST",
                        help="search this second target too, and report the scaling ratio")  # fmt: skip


def locust_command(args: argparse.Namespace, host: str, summary: Path, report: str) -> list[str]:
    per_step = args.capacity_settle + args.capacity_step_time * 1.5 + 5
    bound = int(20 * per_step + 60)  # the search's most steps: every load stops by itself
    command = [
        sys.executable, "-m", "locust", "-f", args.locustfile, "--headless", "--only-summary",
        "--host", host, "-u", str(args.users), "-r", str(args.users), "-t", f"{bound}s",
        "--stop-timeout", "10", "--capacity-search", "--capacity-start", str(args.capacity_start),
        "--capacity-max", str(args.capacity_max), "--capacity-step-time",
        str(args.capacity_step_time), "--capacity-settle", str(args.capacity_settle),
        "--capacity-precision", str(args.capacity_precision),
        "--capacity-report", report, "--summary-json", str(summary),
    ]  # fmt: skip
    for slo in args.capacity_slo:
        command += ["--capacity-slo", slo]
    if args.workers:
        command += ["--processes", str(args.workers)]
    command += run_options(args)
    for option in ("prometheus", "prometheus_figures"):
        if getattr(args, option):
            command += [f"--{option.replace('_', '-')}", getattr(args, option)]
    return command + list(args.after_dashes)


def search(args: argparse.Namespace, host: str, report: str) -> dict[str, Any] | None:
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "summary.json"
        done = subprocess.run(locust_command(args, host, summary, report))
        if not summary.exists():
            print(f"obstack-load capacity: Locust ended ({done.returncode}) with no summary",
                  file=sys.stderr)  # fmt: skip
            return None
        return json.loads(summary.read_text()).get("capacity")


def run(args: argparse.Namespace) -> int:
    if not args.capacity_slo:
        print("obstack-load capacity: --capacity-slo: give at least one SLO, e.g. 'p(95)<500'",
              file=sys.stderr)  # fmt: skip
        return 2
    first = search(args, args.host, args.capacity_report)
    if first is None:
        return 1
    finding = first["finding"]
    print("capacity:", " ".join(finding["words"]))
    print(f"capacity report: {args.capacity_report}")
    code = 0 if finding["capacity"] is not None else 1
    if finding["generator_bound"]:
        code = EXIT_GENERATOR_BOUND
    if args.compare_scaling and code == 0:
        scaled_report = str(Path(args.capacity_report).with_suffix("")) + "-scaled.html"
        second = search(args, args.compare_scaling, scaled_report)
        if second is None:
            return 1
        other = second["finding"]
        print(f"capacity of {args.compare_scaling}:", " ".join(other["words"]))
        if other["capacity"] is not None and finding["capacity"]:
            ratio = other["capacity"] / finding["capacity"]
            print(f"scaling: {args.compare_scaling} holds {ratio:.2f}x the capacity of "
                  f"{args.host} ({other['capacity']:,.0f}/s against {finding['capacity']:,.0f}/s)")  # fmt: skip
        if other["generator_bound"]:
            code = EXIT_GENERATOR_BOUND
    return code

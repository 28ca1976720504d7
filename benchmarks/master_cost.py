"""The master's CPU per worker report, plain Locust against the suite, at N workers; and the
worker count at which the master's one core would be full.

Each variant runs a headless master pinned to one core (``--master-cpu``) and N worker processes
pinned to the other with the nginx sink, every worker at a fixed low rate (10 requests/s):

- ``plain``: Locust's own ``FastHttpUser`` GETs at ``constant_throughput``, nothing of ours;
- ``suite, aggregates``: every plugin (``obstack_load.plugins``), a health probe on the
  open-model schedule (``--arrival-rate``) and OTLP logs at ``--otlp-total-rate`` (so each
  report carries the ingestion ledger), the health monitor, and the results database with
  interval aggregates only;
- ``suite, all rows``: the same with ``--results-requests all``.

The master's CPU seconds (user + system, from /proc via psutil) are read every second; the
window is from 6 s after its first worker report to 3 s before its last, and the reports that
arrived inside it are counted by a listener that notes each one's time (``report_clock.py``).
A worker reports every 3 s and sends a heartbeat every second, so the cost per report is the
master's whole cost per worker per 3 s.

The same listener also times each report's own handling on the master's thread: unpacking the
message and running every ``worker_report`` listener (Locust's stats merge, and the plugins').
That is the part of a report's cost the plugins can add to, measured per report rather than
fitted from the process's CPU, so it is far less noisy than the slope; both are printed.

    python benchmarks/master_cost.py [--workers 4 8 16 32] [--duration 45]

Needs nginx (the sink) and the ``taskset`` command.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import tests  # noqa: E402, F401  (patches gevent before requests loads ssl, as the tests do)
from benchmarks.sink import nginx_sink  # noqa: E402
from tests.support import free_port  # noqa: E402

PER_WORKER_RATE = 10  # requests/s each worker sends
SETTLE_S, TAIL_S = 6.0, 3.0


@dataclass
class Measured:
    workers: int
    reports: int
    seconds: float
    cpu_s: float
    handling_s: float  # the reports' own handling inside the window: unpack + listeners

    @property
    def handling_per_report_ms(self) -> float:
        return 1000 * self.handling_s / self.reports

    @property
    def cpu_per_report_ms(self) -> float:
        return 1000 * self.cpu_s / self.reports

    @property
    def cpu_share(self) -> float:
        """The master's share of one core."""
        return self.cpu_s / self.seconds


def variant_args(name: str, workers: int, workdir: Path) -> tuple[str, list[str]]:
    if name == "plain":
        return "benchmarks/locustfiles/master_plain.py", ["-u", str(2 * workers)]
    rows = "all" if name == "suite, all rows" else "none"
    return "benchmarks/locustfiles/master_suite.py", [
        "-u", str(2 * workers), "--arrival-rate", str(PER_WORKER_RATE / 2 * workers),
        "--otlp-total-rate", str(PER_WORKER_RATE / 2 * 10 * workers), "--otlp-batch-size", "10",
        "--monitor", "--results-db", str(workdir / "results.db"), "--results-requests", rows,
    ]  # fmt: skip


def measure(name: str, workers: int, host: str, args) -> Measured:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        locustfile, extra = variant_args(name, workers, workdir)
        port = str(free_port())
        reports_file = workdir / "reports.json"
        env = {**os.environ, "PYTHONPATH": str(REPO), "OBSTACK_BENCH_REPORTS": str(reports_file)}
        master = subprocess.Popen(
            ["taskset", "-c", args.master_cpu, sys.executable, "-m", "locust", "-f", locustfile,
             "--headless", "--master", "--expect-workers", str(workers), "--master-bind-host",
             "127.0.0.1", "--master-bind-port", port, "--host", host, "-r", str(2 * workers),
             "-t", f"{args.duration}s", "--only-summary", "--stop-timeout", "5", *extra],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        worker_processes = [
            subprocess.Popen(
                [
                    "taskset",
                    "-c",
                    args.worker_cpu,
                    sys.executable,
                    "-m",
                    "locust",
                    "-f",
                    locustfile,
                    "--worker",
                    "--master-host",
                    "127.0.0.1",
                    "--master-port",
                    port,
                ],
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            for _ in range(workers)
        ]
        samples: list[tuple[float, float]] = []  # (wall time, master CPU seconds)
        process = psutil.Process(master.pid)
        while master.poll() is None:
            try:
                cpu = process.cpu_times()
            except psutil.Error:
                break
            samples.append((time.time(), cpu.user + cpu.system))
            time.sleep(1.0)
        master.wait()
        for worker in worker_processes:
            try:
                worker.wait(timeout=120)
            except subprocess.TimeoutExpired:
                worker.kill()
        clock = json.loads(reports_file.read_text())
    reports = clock["times"]
    begin, end = reports[0] + SETTLE_S, reports[-1] - TAIL_S
    inside = [s for s in samples if begin <= s[0] <= end]
    (t0, c0), (t1, c1) = inside[0], inside[-1]
    counted = [h for t, h in zip(reports, clock["handling"], strict=True) if t0 < t <= t1]
    return Measured(workers, len(counted), t1 - t0, c1 - c0, sum(counted))


def fit(points: list[Measured]) -> tuple[float, float]:
    """Least squares of the master's core share against its reports per second: (the share it
    takes whatever the workers, CPU seconds per report). The second is the marginal cost of a
    report, what grows with the workers; the first is the run's own (the results writer, the
    monitor's probes, the figures sampler...), paid once."""
    n = len(points)
    xs, ys = [p.reports / p.seconds for p in points], [p.cpu_share for p in points]
    mx, my = sum(xs) / n, sum(ys) / n
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    return my - slope * mx, slope


def per_report_table(
    results: dict[str, list[Measured]], workers: list[int], label: str, figure: str, digits: int
) -> None:
    """One row per worker count: each variant's ``figure``, and the suite's ratios to plain."""
    names = list(results)
    print()
    print("| workers | " + " | ".join(f"{n}: {label}" for n in names)
          + " | suite/plain, aggregates | suite/plain, all rows |")  # fmt: skip
    print("| ---: |" + " ---: |" * (len(names) + 2))
    for i, count in enumerate(workers):
        values = [getattr(results[n][i], figure) for n in names]
        cells = [f"{v:.{digits}f}" for v in values]
        ratios = [f"{v / values[0]:.2f}" for v in values[1:]]
        print(f"| {count} | {' | '.join(cells)} | {' | '.join(ratios)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[4, 8, 16, 32])
    parser.add_argument("--duration", type=int, default=45)
    parser.add_argument("--master-cpu", default="1")
    parser.add_argument("--worker-cpu", default="0")
    args = parser.parse_args()
    names = ["plain", "suite, aggregates", "suite, all rows"]
    results: dict[str, list[Measured]] = {name: [] for name in names}
    with nginx_sink(args.worker_cpu) as host:
        for workers in args.workers:
            for name in names:
                measured = measure(name, workers, host, args)
                results[name].append(measured)
                print(f"{workers} workers, {name}: {measured.reports} reports in "
                      f"{measured.seconds:.0f} s, master {measured.cpu_share:.1%} of a core, "
                      f"{measured.cpu_per_report_ms:.2f} ms per report, of which handling "
                      f"{measured.handling_per_report_ms:.3f} ms", flush=True)  # fmt: skip
    per_report_table(results, args.workers, "ms per report", "cpu_per_report_ms", 2)
    per_report_table(results, args.workers, "handling ms per report", "handling_per_report_ms", 3)
    if len(args.workers) < 2:
        return
    print()
    print("| variant | fixed share of a core | ms per report (marginal) | ratio to plain | "
          "a full core at |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: |")
    plain_marginal = fit(results["plain"])[1]
    for name in names:
        fixed, per_report = fit(results[name])
        # a worker reports every 3 s: per worker, the master spends per_report / 3 s each second
        ceiling = (1.0 - fixed) / (per_report / 3) if per_report > 0 else float("inf")
        print(f"| {name} | {fixed:.3f} | {1000 * per_report:.2f} | "
              f"{per_report / plain_marginal:.2f} | {ceiling:,.0f} workers |")  # fmt: skip


if __name__ == "__main__":
    main()

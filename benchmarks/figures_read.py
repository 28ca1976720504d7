"""What a capacity step's target figures cost, read from Prometheus next to the target's own
/metrics, side by side in one run: the platform on PostgreSQL, scraped every second by a real
Prometheus (with node- and postgres-exporter, as in tests/figures), and each source read
``--reads`` times in turn. A capacity step reads the figures three times (its start, middle and
end); the monitor's --monitor-series once per interval.

    python benchmarks/figures_read.py [--reads 200]

Prints, per read: the wall time and the reading process's CPU time, for each source, and their
ratio (Prometheus over /metrics).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# tests/ first: it patches gevent before anything imports ssl (requests does)
from tests.postgres import start_postgres  # noqa: E402, I001
from tests.prometheus import start_prometheus  # noqa: E402
from tests.support import population, start_platform  # noqa: E402
from obstack_load.figures.prometheus import (  # noqa: E402
    REFERENCE_FIGURES,
    Prometheus,
    PrometheusFigures,
    load_figures_file,
)
from obstack_load.figures.target import MetricsPage  # noqa: E402
from obstack_load.figures.window import WINDOW_FIGURES  # noqa: E402


def timed(source, reads: int) -> tuple[list[float], list[float], int]:
    walls, cpus, figures = [], [], 0
    for _ in range(reads):
        wall, cpu = time.perf_counter(), time.process_time()
        reading = source.read(WINDOW_FIGURES)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
        figures = len(reading.values)
    return walls, cpus, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args()
    server = start_postgres()
    dsn = server.database("figures_bench")
    platform = start_platform("--db", dsn, "--db-pool-size", "4")
    key = population().tenants[0].api_key
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_prometheus(Path(tmp), platform.url, key, dsn)
        try:
            sources = {
                "/metrics": MetricsPage(platform.url, key),
                "Prometheus": PrometheusFigures(Prometheus(stack.url),
                                                load_figures_file(REFERENCE_FIGURES)),
            }  # fmt: skip
            results: dict[str, tuple[list[float], list[float], int]] = {
                name: ([], [], 0) for name in sources
            }
            for _ in range(4):  # interleaved, so that the machine's noise falls on both
                for name, source in sources.items():
                    walls, cpus, figures = timed(source, args.reads // 4)
                    results[name][0].extend(walls)
                    results[name][1].extend(cpus)
                    results[name] = (results[name][0], results[name][1], figures)
        finally:
            stack.stop()
            platform.stop()
            server.stop("immediate")
    print(f"{'source':<12}{'figures':>8}{'wall ms (median)':>18}{'p95':>8}{'CPU ms (mean)':>15}")
    for name, (walls, cpus, figures) in results.items():
        p95 = statistics.quantiles(walls, n=20)[-1]
        print(f"{name:<12}{figures:>8}{statistics.median(walls):>18.2f}{p95:>8.2f}"
              f"{statistics.mean(cpus):>15.2f}")  # fmt: skip
    (pw, pc, _), (mw, mc, _) = results["Prometheus"], results["/metrics"]
    print(f"ratio Prometheus / /metrics: wall {statistics.median(pw) / statistics.median(mw):.2f}, "
          f"CPU {statistics.mean(pc) / statistics.mean(mc):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()

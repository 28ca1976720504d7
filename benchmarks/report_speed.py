"""How long ``report``, ``compare`` and ``trends`` take on big stored histories, PostgreSQL and
SQLite side by side.

- report and compare: two stored one-hour runs at 200 requests/s with every raw row kept
  (720,000 raw rows each, 5 s intervals); they read the interval tables only, so the raw rows
  must not matter;
- trends: 1,000 stored runs of one label.

    python benchmarks/report_speed.py [--rounds 3] [--runs 1000] [--seconds 3600]

Each command is timed as a user runs it (a new process, interpreter start included), rounds
alternating between the databases. Needs PostgreSQL's server binaries (as the tests do).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from obstack_load.results.store import open_migrated  # noqa: E402
from tests.history import seed_history, seed_long_run  # noqa: E402
from tests.postgres import start_postgres  # noqa: E402


def timed(*args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", *args], cwd=REPO, capture_output=True, text=True
    )
    took = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{args}: {done.returncode}\n{done.stderr}")
    return took


def seed(target: str, args) -> dict:
    store = open_migrated(target)
    started = time.perf_counter()
    base = seed_long_run(store, seconds=args.seconds, seed=1, label="one-hour")
    cand = seed_long_run(store, seconds=args.seconds, seed=2, label="one-hour",
                         start=1_700_000_000.0 + args.seconds + 60)  # fmt: skip
    long_s = time.perf_counter() - started
    started = time.perf_counter()
    levels = [100.0] * (args.runs * 2 // 3) + [120.0] * (args.runs - args.runs * 2 // 3)
    seed_history(store, levels, label="thousand", intervals=12, per_interval=20)
    history_s = time.perf_counter() - started
    raw = store.fetch("SELECT COUNT(*) AS n FROM requests")[0]["n"]
    store.close()
    print(f"{target.split('@')[-1]}: seeded 2 runs ({raw} raw rows) in {long_s:.0f} s and "
          f"{args.runs} runs in {history_s:.0f} s", flush=True)  # fmt: skip
    return {"base": base, "cand": cand}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=3600)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="report-speed-"))
    server = start_postgres()
    try:
        targets = {"postgresql": server.dsn, "sqlite": str(workdir / "results.db")}
        runs = {name: seed(target, args) for name, target in targets.items()}
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for name, target in targets.items():
                r = runs[name]
                out = str(workdir / f"{name}.html")
                for command, argv in (
                    ("report", ("report", r["cand"], "--baseline", r["base"], "--html", out)),
                    ("compare", ("compare", r["base"], r["cand"])),
                    ("trends", ("trends", "--run-label", "thousand")),
                    ("runs show", ("runs", "show", r["cand"])),
                ):
                    times.setdefault((command, name), []).append(
                        timed(*argv, "--results-db", target)
                    )
        print(f"{'command':<10} {'postgresql s':>13} {'sqlite s':>9}  (median of {args.rounds})")
        for command in ("report", "compare", "trends", "runs show"):
            pg = statistics.median(times[(command, "postgresql")])
            lite = statistics.median(times[(command, "sqlite")])
            print(f"{command:<10} {pg:>13.2f} {lite:>9.2f}")
    finally:
        server.stop("immediate")


if __name__ == "__main__":
    main()

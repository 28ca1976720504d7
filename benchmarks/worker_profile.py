"""Where a load generator's time goes with the results plugin: py-spy profiles of one Locust
core, plugin off against aggregates only and all rows, compared function by function.

Each variant runs the same 20 users of raw GETs as ``results_overhead.py`` (Locust pinned to one
core, the nginx sink and PostgreSQL on the other) under ``py-spy record --gil``, so only samples
that hold the GIL, the CPU the generator spends in Python, are counted. For each variant it
prints the share of the samples in each of our functions' own lines, and in Locust's
``EventHook.fire`` (where one more listener costs its call), beside plugin off.

    python benchmarks/worker_profile.py [--duration 20]

Needs py-spy (``pip install py-spy``), nginx and PostgreSQL server binaries.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import tests  # noqa: E402, F401  (patches gevent before requests loads ssl, as the tests do)
from benchmarks.results_overhead import results_variants  # noqa: E402
from benchmarks.sink import nginx_sink  # noqa: E402
from tests.postgres import start_postgres  # noqa: E402

WATCHED = ("obstack_load/", "locust/event.py")  # our code, and Locust calling the listeners


def self_shares(raw: Path) -> dict[str, float]:
    """Share of the samples whose innermost frame is each watched function."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        total += int(number)
        leaf = stack.split(";")[-1]
        if any(part in leaf for part in WATCHED):
            name = re.sub(r":\d+\)$", ")", leaf)
            counts[re.sub(r"\(.*?(obstack_load/|locust/)", r"(\1", name)] += int(number)
    return {name: count / total for name, count in counts.items()} if total else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--users", type=int, default=20)
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    postgres = start_postgres()
    variants = results_variants(postgres.dsn)
    shares: dict[str, dict[str, float]] = {}
    try:
        with nginx_sink("0") as host, tempfile.TemporaryDirectory() as tmp:
            for name, (locustfile, extra) in variants.items():
                raw = Path(tmp) / "profile.txt"
                subprocess.run(
                    [spy, "record", "--gil", "-r", "250", "--format", "raw", "-o", str(raw),
                     "--", "taskset", "-c", "1", sys.executable, "-m", "locust", "-f", locustfile,
                     "--headless", "--host", host, "-u", str(args.users), "-r", str(args.users),
                     "-t", f"{args.duration}s", "--only-summary", "--stop-timeout", "5", *extra],
                    cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True,
                    capture_output=True,
                )  # fmt: skip
                shares[name] = self_shares(raw)
    finally:
        postgres.stop("immediate")
    functions = sorted(
        {f for found in shares.values() for f in found},
        key=lambda f: -max(found.get(f, 0.0) for found in shares.values()),
    )
    print("Share of the GIL-holding samples in each function's own lines:")
    print("| function | " + " | ".join(variants) + " |")
    print("| --- |" + " ---: |" * len(variants))
    for function in functions[:15]:
        cells = [f"{shares[name].get(function, 0.0):.2%}" for name in variants]
        print(f"| `{function}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

"""Chaos Toolkit's own ``chaos run`` against the suite's ``obstack-load chaos run``, run after
run, on each ready experiment file: each run on a fresh stack (the platform on PostgreSQL,
supervised, behind the fault proxy: tests/chaos/rig.py). Counts, per file and runner, the runs
that passed (the suite's verdict) or ended ``completed`` (Chaos Toolkit's journal), and lists
every disagreement: a file the suite passes must never end ``deviated`` under ``chaos run``.

    .venv/bin/python -m benchmarks.chaostoolkit_agreement --runs 3 [--only database-down]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tests.chaos.rig import chaos_run, start_rig
from tests.chaos.test_chaostoolkit_run import READY, chaos_toolkit_run
from tests.postgres import start_postgres


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", action="append", default=[])
    args = parser.parse_args()
    postgres = start_postgres()
    table: dict[str, dict[str, list[str]]] = {}
    try:
        for run in range(args.runs):
            for name in args.only or READY:
                for runner in ("suite", "chaos run"):
                    with tempfile.TemporaryDirectory() as tmp:
                        rig = start_rig(postgres, f"agree_{run}_{name.replace('-', '_')}_"
                                        f"{runner.replace(' ', '_')}", Path(tmp))  # fmt: skip
                        try:
                            if runner == "suite":
                                _, _, chaos = chaos_run(rig, name, Path(tmp))
                                outcome = (
                                    "passed" if chaos["passed"] else f"FAILED: {chaos['reason']}"
                                )
                            else:
                                _, record, _ = chaos_toolkit_run(rig, name, Path(tmp))
                                outcome = record["status"]
                        finally:
                            rig.stop()
                    table.setdefault(name, {}).setdefault(runner, []).append(outcome)
                    print(f"run {run + 1} {name} {runner}: {outcome}", flush=True)
    finally:
        postgres.stop("immediate")
    print(f"\n{'experiment':<22}{'suite passed':>14}{'chaos run completed':>22}")
    disagreements = 0
    for name, runners in table.items():
        suite, toolkit = runners["suite"], runners["chaos run"]
        passed = sum(o == "passed" for o in suite)
        completed = sum(o == "completed" for o in toolkit)
        print(f"{name:<22}{passed:>9} of {len(suite):<2}{completed:>17} of {len(toolkit):<2}")
        if passed == len(suite):
            disagreements += len(toolkit) - completed
    print(f"\nruns of a file the suite passed every time that chaos run did not complete: "
          f"{disagreements}")  # fmt: skip


if __name__ == "__main__":
    main()

"""The measured recovery time of a killed platform against the true one.

The platform (on PostgreSQL, supervised, behind the fault proxy) takes a known time to listen
again after it is killed (``--test-startup-delay``, 5 s by default). Each round runs
config/chaos/platform-killed.yaml with ``obstack-load chaos run``; the truth is what the
supervisor recorded: from the process's exit to the new one's "listening" line. The measures are
the verdict's recovery time (the steady-state hypothesis holding again) and the monitor's readyz
recovery. With the monitor's defaults (interval 1 s, timeout 1 s, successThreshold 1), readyz
must come in [truth, truth + 2 s]; the hypothesis adds at most one poll (1 s) and a window with
requests in it.

    .venv/bin/python -m benchmarks.chaos_recovery --rounds 5 [--startup-delay 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from tests.chaos.rig import chaos_run, start_rig
from tests.postgres import start_postgres


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--startup-delay", type=float, default=5.0)
    args = parser.parse_args()
    postgres = start_postgres()
    rows = []
    try:
        for index in range(args.rounds):
            with tempfile.TemporaryDirectory() as tmp:
                rig = start_rig(postgres, f"recovery_{index}", Path(tmp),
                                "--test-startup-delay", str(args.startup_delay))  # fmt: skip
                try:
                    code, output, chaos = chaos_run(rig, "platform-killed", Path(tmp))
                finally:
                    rig.stop()
                events = rig.supervised()
                exited = next(at for what, at in events if what.startswith("exited"))
                ready = [at for what, at in events if what == "ready"][-1]
                truth = ready - exited
                # the fault is recorded when the kill is sent; the exit is seen a moment later
                killed = chaos["fault_off_at"]
                row = (truth + (exited - killed), chaos["recovery_s"],
                       chaos["probe_recovery_s"]["readyz"], chaos["passed"])  # fmt: skip
                rows.append(row)
                print(f"round {index + 1}: truth {row[0]:.2f} s, readyz {row[2]:.2f} s, "
                      f"hypothesis {row[1]:.2f} s, verdict {'passed' if row[3] else 'FAILED'}",
                      flush=True)  # fmt: skip
    finally:
        postgres.stop()
    late_readyz = [r[2] - r[0] for r in rows]
    late_hypothesis = [r[1] - r[0] for r in rows]
    print(f"\nreadyz after the truth: min {min(late_readyz):.2f} s, median "
          f"{statistics.median(late_readyz):.2f} s, max {max(late_readyz):.2f} s "
          f"(bound: 0 to 2 s)")  # fmt: skip
    print(
        f"hypothesis after the truth: min {min(late_hypothesis):.2f} s, median "
        f"{statistics.median(late_hypothesis):.2f} s, max {max(late_hypothesis):.2f} s"
    )
    print(f"verdicts passed: {sum(r[3] for r in rows)} of {len(rows)}")


if __name__ == "__main__":
    main()

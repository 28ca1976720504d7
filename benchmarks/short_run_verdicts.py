"""``compare`` on the runs CI runs: how often it cries wolf, and what it catches, at 30 s, 60 s
or 5 min with every setting at its default (5 s intervals), the old method beside the new.

Each round runs three real load tests of ``locustfiles/api.py`` (30 users) back to back, each
against a freshly started reference platform:

    A1, A2  the same build: an A/A pair; any endpoint flagged is a false positive
    B       the alerts paths 10 ms slower (the listing answers in about 2 ms: issue 27's case,
            the power for +10 ms), and the dashboards listing 30% slower (the power for +30%)

The dashboards listing has a 10 ms base in every run, as in regression_power.py: 30% of the
platform's own 2 to 4 ms is under Locust's 1 ms resolution.

    old  intervals only: an endpoint with fewer than 6 intervals has no verdict
    new  the default: one with fewer than 10 is judged on every request (docs/regressions.md)

    python benchmarks/short_run_verdicts.py --duration 30 --rounds 10
    python benchmarks/short_run_verdicts.py --analyse results/bench/short-30s.db

The runs stay in the SQLite file; ``--analyse`` judges them again without running anything.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import tests  # noqa: E402, F401  (patches gevent before requests loads ssl, as the tests do)
from obstack_load.analysis.compare import compare_runs  # noqa: E402
from obstack_load.analysis.judge import BETTER, UNKNOWN, WORSE, JudgeSettings  # noqa: E402
from obstack_load.results.store import open_store  # noqa: E402
from tests.support import run_locust, start_platform  # noqa: E402

BASE = "/api/v1/dashboards=10"
ALERTS = ("GET", "/api/v1/alerts")
DASHBOARDS = ("GET", "/api/v1/dashboards")
SLOWED = {ALERTS, DASHBOARDS, ("POST", "/api/v1/alerts/[id]/ack")}
METHODS = {
    # before issue 27: intervals only, and fewer than 6 of them, no verdict
    "old": JudgeSettings(min_samples=6, min_requests=10**9),
    "new": JudgeSettings(),
}


def one_run(db: str, label: str, args, slow_paths: str) -> str:
    platform = start_platform("--test-slow-path", slow_paths)
    summary = Path(db).with_suffix(".last.json")
    try:
        done = run_locust(
            "-f", "locustfiles/api.py", "--headless", "--host", platform.url,
            "-u", str(args.users), "-r", str(args.users), "-t", f"{args.duration}s",
            "--only-summary", "--results-db", db, "--results-requests", "none",
            "--run-label", label, "--summary-json", str(summary),
            timeout=args.duration + 300,
        )  # fmt: skip
    finally:
        platform.stop()
    if done.returncode != 0:
        raise SystemExit(
            f"run failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
        )
    return json.loads(summary.read_text())["results"]["run_id"]


def dashboards_mean(db: str, run_id: str) -> float:
    store = open_store(db)
    try:
        (row,) = store.fetch(
            "SELECT SUM(total_ms) AS ms, SUM(count) AS n FROM request_intervals "
            "WHERE run_id = ? AND method = ? AND name = ?",
            (run_id, *DASHBOARDS),
        )
        return row["ms"] / row["n"]
    finally:
        store.close()


def measure(args) -> list[dict]:
    Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    rounds_file = Path(args.db).with_suffix(".rounds.json")
    rounds = json.loads(rounds_file.read_text()) if rounds_file.exists() else []
    for index in range(len(rounds), args.rounds):
        a1 = one_run(args.db, "aa", args, BASE)
        a2 = one_run(args.db, "aa", args, BASE)
        thirty = 0.3 * dashboards_mean(args.db, a2)
        b = one_run(args.db, "ab", args, f"/api/v1/dashboards={10 + thirty:.3f},/api/v1/alerts*=10")
        rounds.append({"a1": a1, "a2": a2, "b": b, "dashboards_added_ms": thirty})
        print(f"round {index + 1}: A1 {a1[:8]} A2 {a2[:8]} B {b[:8]}", flush=True)
        rounds_file.write_text(json.dumps(rounds, indent=1))  # a stopped series resumes
    return rounds


def analyse(db: str, rounds: list[dict], settings: JudgeSettings) -> dict:
    store = open_store(db)
    counts = dict.fromkeys(
        ("aa_verdicts", "aa_false", "aa_unjudged", "aa_exit_1", "aa_exit_3", "ab_exit_1",
         "alerts_caught", "dashboards_caught", "ab_others_flagged", "ab_unjudged"),
        0,
    )  # fmt: skip
    try:
        for r in rounds:
            aa = compare_runs(store, r["a1"], r["a2"], "mean", settings)
            rows = [*aa.endpoints, *([aa.total] if aa.total else [])]
            counts["aa_verdicts"] += sum(e.verdict != UNKNOWN for e in rows)
            counts["aa_unjudged"] += sum(e.verdict == UNKNOWN for e in rows)
            counts["aa_false"] += sum(e.verdict in (WORSE, BETTER) for e in rows)
            counts["aa_exit_1"] += aa.exit_code == 1
            counts["aa_exit_3"] += aa.exit_code == 3
            ab = compare_runs(store, r["a2"], r["b"], "mean", settings)
            by_key = {(e.method, e.name): e for e in ab.endpoints}
            counts["alerts_caught"] += by_key[ALERTS].verdict == WORSE
            counts["dashboards_caught"] += by_key[DASHBOARDS].verdict == WORSE
            counts["ab_others_flagged"] += sum(
                e.verdict in (WORSE, BETTER) for key, e in by_key.items() if key not in SLOWED
            )
            counts["ab_unjudged"] += sum(e.verdict == UNKNOWN for e in ab.endpoints)
            counts["ab_exit_1"] += ab.exit_code == 1
    finally:
        store.close()
    judged = counts["aa_verdicts"]
    counts["aa_false_rate"] = counts["aa_false"] / judged if judged else None
    counts["rounds"] = len(rounds)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--duration", type=int, default=30, help="seconds per run")
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--db", help="default results/bench/short-<duration>s.db")
    parser.add_argument(
        "--analyse", metavar="DB", help="judge the stored rounds again; run nothing"
    )
    parser.add_argument(
        "--min-intervals", type=int, nargs="*", default=[6, 8, 12, 10**6],
        help="also judge with these --min-intervals (10**6: every endpoint on its requests)",
    )  # fmt: skip
    args = parser.parse_args()
    args.db = args.analyse or args.db or f"results/bench/short-{args.duration}s.db"
    if args.analyse:
        rounds = json.loads(Path(args.db).with_suffix(".rounds.json").read_text())
    else:
        rounds = measure(args)
    variants = dict(METHODS)
    variants["new --strict"] = replace(METHODS["new"], strict=True)
    for fewer in args.min_intervals:  # where to cross over from requests to intervals
        variants[f"requests below {fewer} intervals"] = replace(METHODS["new"], min_samples=fewer)
    for name, settings in variants.items():
        print(json.dumps({"method": name, **analyse(args.db, rounds, settings)}))


if __name__ == "__main__":
    main()

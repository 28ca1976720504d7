"""How often ``obstack-load compare`` cries wolf, and how often it catches a real regression.

Each round runs three real load tests back to back, each against a freshly started reference
platform, on this (noisy, shared) machine:

    A1, A2  the same build and profile: an A/A pair; any endpoint flagged is a false positive
    B       P made 30% slower: a known regression on one endpoint; (A2, B) must flag P, only P

P is the dashboards listing. The reference platform answers it in 2 to 4 ms, where 30% is under
the 1 ms that Locust's histograms resolve, so every run gives it a base latency of 10 ms
(``--test-slow-path P --test-slow-ms 10``: the "build" under test is that slower platform), and
B adds 30% of A2's measured mean on top.

    python benchmarks/regression_power.py [--rounds 10] [--duration 60] [--users 30]
    python benchmarks/regression_power.py --analyse results/bench/regression.db

The runs stay in the SQLite file, so ``--analyse`` judges them again with other settings
(``--tolerance``, ``--metric``) without running anything.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import tests  # noqa: E402, F401  (patches gevent before requests loads ssl, as the tests do)
from obstack_load.analysis.compare import compare_runs  # noqa: E402
from obstack_load.analysis.judge import BETTER, WORSE, JudgeSettings  # noqa: E402
from obstack_load.analysis.series import intervals  # noqa: E402
from obstack_load.results.store import open_store  # noqa: E402
from tests.support import run_locust, start_platform  # noqa: E402

SLOW_PATH = "/api/v1/dashboards"  # the listing only: the path must match exactly
SLOW_NAME = ("GET", "/api/v1/dashboards")


BASE_MS = 10.0


def one_run(db: str, label: str, args, slow_ms: float = BASE_MS) -> str:
    platform = start_platform("--test-slow-path", SLOW_PATH, "--test-slow-ms", f"{slow_ms:.3f}")
    try:
        done = run_locust(
            "-f", "locustfiles/api.py", "--headless", "--host", platform.url,
            "-u", str(args.users), "-r", str(args.users), "-t", f"{args.duration}s",
            "--only-summary", "--results-db", db, "--results-requests", "none",
            "--results-interval", str(args.interval), "--run-label", label,
            "--summary-json", str(Path(db).with_suffix(".last.json")),
        )  # fmt: skip
    finally:
        platform.stop()
    if done.returncode != 0:
        raise SystemExit(
            f"run failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
        )
    return json.loads(Path(db).with_suffix(".last.json").read_text())["results"]["run_id"]


def mean_ms(db: str, run_id: str, key: tuple[str, str]) -> float:
    store = open_store(db)
    try:
        found = intervals(store, run_id)[key]
        return sum(found.total_ms) / found.requests
    finally:
        store.close()


def measure(args) -> dict:
    Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    rounds = []
    for index in range(args.rounds):
        a1 = one_run(args.db, "aa", args)
        a2 = one_run(args.db, "aa", args)
        added = 0.3 * mean_ms(args.db, a2, SLOW_NAME)
        b = one_run(args.db, "ab", args, BASE_MS + added)
        rounds.append({"a1": a1, "a2": a2, "b": b, "added_ms": added})
        print(f"round {index + 1}: A1 {a1[:8]} A2 {a2[:8]} B {b[:8]} (+{added:.2f} ms)", flush=True)
        Path(args.db).with_suffix(".rounds.json").write_text(json.dumps(rounds, indent=1))
    return {"rounds": rounds}


def flagged(comparison) -> list[str]:
    return [f"{e.method} {e.name}".strip() for e in comparison.endpoints + [comparison.total]
            if e.verdict in (WORSE, BETTER)]  # fmt: skip


def analyse(db: str, rounds: list[dict], settings: JudgeSettings, metric: str) -> dict:
    store = open_store(db)
    aa_flags = aa_judged = aa_runs_flagged = aa_exit = 0
    caught = exact = ab_exit = 0
    for r in rounds:
        aa = compare_runs(store, r["a1"], r["a2"], metric, settings)
        judged = [e for e in [*aa.endpoints, aa.total] if e.latency.effect is not None]
        aa_judged += len(judged)
        aa_flags += len(flagged(aa))
        aa_runs_flagged += bool(flagged(aa))
        aa_exit += aa.exit_code != 0
        ab = compare_runs(store, r["a2"], r["b"], metric, settings)
        target = [e for e in ab.endpoints if (e.method, e.name) == SLOW_NAME][0]
        others = [f for f in flagged(ab) if f not in ("GET /api/v1/dashboards", "Aggregated")]
        ab_exit += ab.exit_code != 0
        caught += target.verdict == WORSE
        exact += target.verdict == WORSE and not others
        print(
            f"  A/A {aa.verdict:<6} flagged {flagged(aa) or '-'}; "
            f"A/B target {target.verdict} {target.latency.effect * 100:+.1f}% "
            f"[{target.latency.low * 100:+.1f}%, {target.latency.high * 100:+.1f}%], "
            f"shared {ab.shared_shift * 100:+.1f}%, exit {ab.exit_code}, others {others or '-'}"
        )
    store.close()
    n = len(rounds)
    return {
        "metric": metric,
        "tolerance": settings.tolerance,
        "confidence": settings.confidence,
        "aa_pairs": n,
        "aa_endpoint_verdicts": aa_judged,
        "aa_endpoint_false_positives": aa_flags,
        "aa_pairs_with_any_flag": aa_runs_flagged,
        "aa_pairs_exit_1": aa_exit,
        "ab_pairs": n,
        "ab_target_caught": caught,
        "ab_caught_exactly": exact,
        "ab_pairs_exit_1": ab_exit,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--interval", type=float, default=3)
    parser.add_argument("--db", default="results/bench/regression.db")
    parser.add_argument(
        "--analyse", metavar="DB", help="judge the stored rounds again; run nothing"
    )
    parser.add_argument("--tolerance", type=float, nargs="*", default=[0.0, 5.0, 10.0])
    parser.add_argument("--metric", default="mean")
    parser.add_argument("--min-shift", type=float, default=1.0, help="ms (compare --min-shift)")
    parser.add_argument("--against-the-rest", action="store_true", help="as compare's option")
    args = parser.parse_args()
    if args.analyse:
        args.db = args.analyse
        rounds = json.loads(Path(args.db).with_suffix(".rounds.json").read_text())
    else:
        rounds = measure(args)["rounds"]
    for tolerance in args.tolerance:
        print(
            f"tolerance {tolerance:g}%, metric {args.metric}, min shift {args.min_shift:g} ms"
            f"{', against the rest' if args.against_the_rest else ''}:"
        )
        settings = JudgeSettings(
            tolerance=tolerance / 100,
            min_shift_ms=args.min_shift,
            against_the_rest=args.against_the_rest,
        )
        result = analyse(args.db, rounds, settings, args.metric)
        print(json.dumps(result))


if __name__ == "__main__":
    main()

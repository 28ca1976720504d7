"""``obstack-load results replay|import-junit``: rows the results database never took, and other
test suites' results stored beside the load runs."""

from __future__ import annotations

import argparse

from obstack_load.cli.common import group, results_db, run_label
from obstack_load.core.config import ConfigError


def _results_replay(args: argparse.Namespace) -> int:
    from obstack_load.results.spool import replay, spool_header
    from obstack_load.results.store import MASK, open_migrated

    header = spool_header(args.spool)
    target = args.results_db or (header.location if MASK not in header.location else None)
    if not target:
        raise ConfigError(
            "--results-db",
            "",
            f"{args.spool} was meant for {header.location}; give --results-db with its password",
        )
    store = open_migrated(target)
    written, skipped, rows = replay(store, args.spool)
    print(
        f"{store.location}: run {header.run_id}: {written} batches ({rows} rows) written, "
        f"{skipped} already there"
    )
    return 0


def _results_import_junit(args: argparse.Namespace) -> int:
    from obstack_load.results import junit
    from obstack_load.results.store import open_migrated

    suite_run = junit.read(args.files, args.suite, args.run_label or "", args.git_revision)
    store = open_migrated(args.results_db)
    stored = store.import_suite(suite_run.row(), suite_run.case_rows())
    counts = ", ".join(f"{suite_run.count(o)} {o}" for o in junit.OUTCOMES)
    what = "imported" if stored else "already imported; nothing added"
    print(
        f"{store.location}: suite {args.suite} run {suite_run.suite_run_id[:12]}: "
        f"{len(suite_run.cases)} tests ({counts}) in {suite_run.duration_s:.1f} s: {what}"
    )
    return 0


def register(commands) -> None:
    results_commands = group(
        commands, "results", "spools and imported test results",
        "Rows the results database never took, and other test suites' results.",
    )  # fmt: skip
    replay = results_commands.add_parser(
        "replay",
        parents=[results_db("the results database: a postgresql:// DSN or an SQLite path "
                            "(default $OBSTACK_RESULTS_DB, else the spool's own database when "
                            "it needs no password)")],
        help="load a spool into the results database, exactly once",
        description="Load a spool (written when the results database stayed away at the end of "
        "a run) into the database. A second replay of the same spool adds nothing.",
    )  # fmt: skip
    replay.add_argument("spool", help="the spool file the run named")
    replay.set_defaults(func=_results_replay)
    junit_import = results_commands.add_parser(
        "import-junit",
        parents=[results_db(), run_label("a label for this suite run, e.g. nightly")],
        help="store other test suites' JUnit XML results beside the load runs",
        description="Store a test suite's JUnit XML (pytest --junitxml, and most runners) in the "
        "results database: pass, fail, error and skip counts, each test's outcome and duration, "
        "the suite's duration and git revision. Several files (shards) make one suite run; the "
        "same files imported twice are stored once.",
    )
    junit_import.add_argument("files", nargs="+", metavar="FILE", help="JUnit XML file(s)")
    junit_import.add_argument("--suite", required=True, help="the suite's name, e.g. e2e")
    junit_import.add_argument(
        "--git-revision", help="default: git rev-parse HEAD in the current directory"
    )
    junit_import.set_defaults(func=_results_import_junit)

"""One name per concept: every obstack-load command's help is walked, and a second spelling of a
concept fails the test; the old spellings still work for one release, with a one-line notice;
the Locust side spells each concept the same way."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from obstack_load.cli import build_parser
from tests.support import REPO

# concept: its one name, and spellings that must not show in any command's help
CONCEPTS = {
    "results database": ("--results-db", {"--db", "--database", "--results"}),
    "tenants file": ("--tenants-file", {"--tenants", "--tenant-file"}),
    "run label": ("--run-label", {"--label"}),
    "capacity SLO": ("--capacity-slo", {"--slo"}),
    "HTML file written": ("--html", {"--out", "--output", "--report"}),
    "capacity report": ("--capacity-report", {"--report"}),
}
# where --db is the reference platform's own database, its one meaning outside the results
PLATFORM_DATABASE = {("platform",), ("db", "seed")}


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every command and subcommand, with its parser."""
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        yield path, parser
    for action in subparsers:
        for name, sub in action.choices.items():
            yield from commands(sub, (*path, name))


def shown(parser: argparse.ArgumentParser) -> set[str]:
    return {
        option
        for action in parser._actions
        if action.help != argparse.SUPPRESS
        for option in action.option_strings
    }


ALL = list(commands(build_parser()))


def test_the_walk_finds_every_command():
    names = {" ".join(path) for path, _ in ALL}
    assert {"platform", "runs list", "compare", "report", "chaos run", "capacity", "db seed",
            "results import-junit", "trends", "dashboard"} <= names  # fmt: skip
    assert len(names) == 18, sorted(names)  # a new command joins the walk by itself


@pytest.mark.parametrize("path, parser", ALL, ids=[" ".join(p) for p, _ in ALL])
def test_every_command_has_one_name_per_concept(path, parser):
    options = shown(parser)
    text = parser.format_help()
    for concept, (name, others) in CONCEPTS.items():
        others = others - {name}
        if path in PLATFORM_DATABASE:
            others = others - {"--db"}
        second = sorted(options & others)
        assert not second, f"obstack-load {' '.join(path)}: {second} for the {concept} ({name})"
    if path not in PLATFORM_DATABASE:
        assert "--db" not in options
    for option in options:
        assert option in text, f"{option} missing from the help of {' '.join(path)}"
    assert "(default )" not in text, f"an empty default shown in {' '.join(path)}"


@pytest.mark.parametrize(
    "argv, old, new",
    [
        (["runs", "list", "--db", "{db}"], "--db", "--results-db"),
        (["trends", "--label", "x", "--db", "{db}"], "--label", "--run-label"),
        (["tenants", "--tenants", "config/tenants.yaml"], "--tenants", "--tenants-file"),
    ],
)
def test_an_old_spelling_still_works_and_names_the_new_one(tmp_path, argv, old, new):
    db = tmp_path / "results.db"
    migrated = subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", "db", "migrate", "--results-db", str(db)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert migrated.returncode == 0, migrated.stderr
    result = subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", *(a.format(db=db) for a in argv)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    notices = [line for line in result.stderr.splitlines() if "is now" in line]
    assert f"obstack-load: {old} is now {new}; the old name goes in the next release" in notices


@pytest.mark.parametrize("path", [("capacity",), ("chaos", "run")], ids=" ".join)
def test_a_command_that_starts_a_run_takes_the_runs_options_and_hands_them_on(path):
    from obstack_load.core.vocabulary import RUN_OPTIONS, run_options

    parser = dict(ALL)[path]
    assert {name for name, _, _ in RUN_OPTIONS} <= shown(parser)
    argv = ["--results-db", "r.db", "--run-label", "nightly", "--tenants-file", "t.yaml"]
    required = {("capacity",): ["-f", "x.py", "--host", "http://h"], ("chaos", "run"): ["e.yaml"]}
    args = parser.parse_args([*required[path], *argv])
    assert run_options(args) == argv

"""Other test suites' results beside the load runs: JUnit XML (pytest's ``--junitxml``, and most
runners') read into ``test_suite_runs`` and ``test_cases``.

Several files make one suite run (a suite run in shards writes one per shard). Its id is a
hash of the suite name and the files' bytes, so importing the same files twice stores them once.
Failure messages are kept (shortened), with anything that looks like a credential masked.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import subprocess
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import astuple, dataclass, field
from pathlib import Path

from obstack_load.core.config import ConfigError

MESSAGE_CHARS = 500
OUTCOMES = ("passed", "failed", "error", "skipped")
# user:password@ in URLs, and password=..., token: ..., api_key "..." and the like
_URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/\s@]+:)[^@\s]+@", re.IGNORECASE)
_NAMED_SECRET = re.compile(
    r"((?:password|passwd|pwd|token|secret|api[_-]?key)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]+",
    re.IGNORECASE,
)


def mask_secrets(text: str) -> str:
    return _NAMED_SECRET.sub(r"\1***", _URL_CREDENTIALS.sub(r"\1***@", text))


@dataclass(frozen=True)
class Case:
    classname: str
    name: str
    outcome: str  # passed, failed, error or skipped
    duration_s: float
    message: str


@dataclass
class SuiteRun:
    suite_run_id: str
    suite: str
    label: str
    git_revision: str | None
    started_at: float
    duration_s: float
    source: str
    cases: list[Case] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for case in self.cases if case.outcome == outcome)

    def row(self) -> tuple:
        return (
            self.suite_run_id, self.suite, self.label, self.git_revision, self.started_at,
            self.duration_s, len(self.cases), self.count("passed"), self.count("failed"),
            self.count("error"), self.count("skipped"), self.source, time.time(),
        )  # fmt: skip

    def case_rows(self) -> list[tuple]:
        return [(self.suite_run_id, *astuple(case)) for case in self.cases]


def _outcome(testcase: ElementTree.Element) -> tuple[str, str]:
    for tag, outcome in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
        found = testcase.find(tag)
        if found is not None:
            text = found.get("message") or (found.text or "")
            return outcome, mask_secrets(" ".join(text.split()))[:MESSAGE_CHARS]
    return "passed", ""


def _timestamp(text: str | None, fallback: float) -> float:
    if not text:
        return fallback
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        return fallback
    if when.tzinfo is None:  # JUnit's timestamp has no zone; pytest writes local time
        when = when.astimezone()
    return when.timestamp()


def git_revision(cwd: str | Path = ".") -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def read(paths: list[str], suite: str, label: str = "", revision: str | None = None) -> SuiteRun:
    """One suite run from one or more JUnit XML files; a bad file is a one-line error."""
    digest = hashlib.sha256(suite.encode())
    starts, ends, cases = [], [], []
    for path in paths:
        try:
            data = Path(path).read_bytes()
            root = ElementTree.fromstring(data)
        except OSError as exc:
            raise ConfigError(path, "", f"cannot read: {exc.strerror or exc}") from None
        except ElementTree.ParseError as exc:
            raise ConfigError(path, "", f"not JUnit XML: {exc}") from None
        if root.tag not in ("testsuites", "testsuite"):
            raise ConfigError(path, "", f"not JUnit XML: the root is <{root.tag}>")
        digest.update(data)
        mtime = os.path.getmtime(path)
        for testsuite in root.iter("testsuite"):
            took = float(testsuite.get("time") or 0.0)
            start = _timestamp(testsuite.get("timestamp"), mtime - took)
            starts.append(start)
            ends.append(start + took)
            for testcase in testsuite.iter("testcase"):
                outcome, message = _outcome(testcase)
                cases.append(Case(
                    testcase.get("classname") or "", testcase.get("name") or "", outcome,
                    float(testcase.get("time") or 0.0), message,
                ))  # fmt: skip
    if not starts:
        raise ConfigError(", ".join(paths), "", "not JUnit XML: no <testsuite> in it")
    return SuiteRun(
        suite_run_id=digest.hexdigest()[:32],
        suite=suite,
        label=label,
        git_revision=revision if revision is not None else git_revision(),
        started_at=min(starts),
        duration_s=max(ends) - min(starts),  # shards side by side: the wall clock, not the sum
        source=", ".join(Path(p).name for p in paths),
        cases=cases,
    )

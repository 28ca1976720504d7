"""The locustfiles' own names: Locust imports a locustfile as a top-level module under its file
name and leaves it in ``sys.modules``, so a locustfile named like a standard-library module
(``platform.py`` once) replaces that module for the whole process, and the next library that
imports it (scipy, through numpy.testing) breaks."""

from __future__ import annotations

import sys

from tests.support import REPO


def test_no_locustfile_is_named_like_a_standard_library_module():
    names = {path.stem for path in (REPO / "locustfiles").glob("*.py")}
    assert names and not names & sys.stdlib_module_names, names & sys.stdlib_module_names

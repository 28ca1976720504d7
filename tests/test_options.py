"""The suite's options: each in its named group with its OBSTACK_* variable, shown grouped by
`obstack-load options`, and the web UI's start form offers the few an ad-hoc user changes
(Chromium counts them; a screenshot is kept in results/test-artifacts/)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import requests

from obstack_load.run.options import GROUPS, IN_THE_FORM
from tests.support import REPO, free_port, start_locust, wait_for

ARTIFACTS = REPO / "results" / "test-artifacts"
EVERY_LOCUSTFILE = ["mixed", "database", "live", "smoke", "probe", "api", "ingest"]
# Run in a child: the suite's options exist once Locust's parser event has fired with every
# plugin loaded, as in a real run.
LIST_OPTIONS = """
import json, sys
from locust.argument_parser import get_parser
from locust.util.load_locustfile import load_locustfile
base = {a.dest for a in get_parser()._actions}
for name in sys.argv[1:]:
    load_locustfile(f"locustfiles/{name}.py")
parser = get_parser()
print(json.dumps([
    {"flag": a.option_strings[0], "env": getattr(a, "env_var", None),
     "group": next(g.title for g in parser._action_groups if a in g._group_actions),
     "in_form": bool(getattr(a, "include_in_web_ui", False))}
    for a in parser._actions
    if a.dest not in base and a.help != "==SUPPRESS=="  # an old spelling's hidden alias
]))
"""


def suite_options() -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-c", LIST_OPTIONS, *EVERY_LOCUSTFILE],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_every_option_has_its_variable_and_its_group():
    options = suite_options()
    assert len(options) >= 70
    titles = {title for title, _ in GROUPS}
    for option in options:
        expected = "OBSTACK_" + option["flag"].lstrip("-").upper().replace("-", "_")
        assert option["env"] and option["env"].startswith("OBSTACK_"), option
        assert option["env"] == expected or option["flag"] in ("--threshold", "--run-tag"), option
        assert option["group"] in titles, option
    assert {o["flag"] for o in options if o["in_form"]} == IN_THE_FORM
    assert len(IN_THE_FORM) <= 25, "the form is for what an ad-hoc user changes"


def test_obstack_load_options_shows_every_group():
    done = subprocess.run(
        [sys.executable, "-m", "obstack_load.cli", "options", "locustfiles/mixed.py",
         "locustfiles/database.py"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for title, _ in GROUPS:
        assert f"\n{title}:\n" in done.stdout, title
    assert "(env OBSTACK_RESULTS_DB)" in done.stdout


def test_the_web_ui_form_offers_the_options_an_ad_hoc_user_changes(platform):
    port = free_port()
    process = start_locust(
        "-f", "locustfiles/mixed.py", "--host", platform.url, "--web-host", "127.0.0.1",
        "--web-port", str(port),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url), timeout=120, interval=0.2)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        screenshot = ARTIFACTS / "web-ui-start-form.png"
        shown = subprocess.run(
            [sys.executable, str(REPO / "tests" / "browser.py"), "--form", url, str(screenshot)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert shown.returncode == 0, shown.stderr[-3000:]
        names = set(json.loads(shown.stdout))
        wanted = {_camel(flag) for flag in IN_THE_FORM}
        assert wanted <= names, wanted - names
        hidden = {"resultsRequests", "otlpRetries", "capacityPrecision", "monitorInterval"}
        assert not hidden & names, hidden & names
        assert screenshot.stat().st_size > 0
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=300)


def _camel(flag: str) -> str:
    head, *rest = flag.lstrip("-").split("-")
    return head + "".join(word.title() for word in rest)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.ConnectionError:
        return False

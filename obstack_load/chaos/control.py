"""A Chaos Toolkit control that brings the experiment's load along under Chaos Toolkit's own
``chaos run``: before the experiment it starts Locust with the file's load
(``extensions.obstack.load``) against ``obstack_host``, its web UI on ``locust_web_url`` (which
the load probes read), waits until requests flow and the warm-up is over; after the
experiment it stops that Locust (SIGTERM: its run is finalised as any other).

Attached to a Locust run (``--chaos-experiment``, ``obstack-load chaos run``) the load is that
run, and this does nothing. The ready experiments declare it in ``controls``.

Under both runners it also times the actions of other extensions (Chaos Toolkit's Kubernetes
extension terminating pods, say): such an action is a fault from its start to its end, so the
recovery time runs from its end, as it does from our own actions' ``fault off``.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from obstack_load.chaos import experiment as experiments
from obstack_load.chaos import runs

logger = logging.getLogger("chaostoolkit")
READY_TIMEOUT_S = 120.0
_loads: dict[str, subprocess.Popen] = {}  # by web UI URL: the loads this process started


def before_experiment_control(
    context: dict[str, Any], configuration: dict | None = None, **kwargs: Any
) -> None:
    if runs.of(configuration) is not None:
        return
    settings = experiments.check(context, context.get("title", "the experiment"))
    # wait_for_recovery waits for this experiment's whole hypothesis, within its budget
    runs.unattached.experiment = context
    runs.unattached.recovery_budget_s = settings.recovery_budget_s
    url = (configuration or {}).get("locust_web_url", "http://127.0.0.1:8089")
    host = (configuration or {}).get("obstack_host", "http://127.0.0.1:8080")
    where = urlsplit(url)
    load = settings.load
    command = [sys.executable, "-m", "locust", "-f", load.locustfile_path]
    if load.config_path:
        command += ["--config", load.config_path]
    command += [
        "--autostart", "--host", host, "-u", str(load.users), "-r", str(load.spawn_rate),
        "-t", f"{settings.backstop_s()}s", "--stop-timeout", "10",
        "--web-host", where.hostname or "127.0.0.1", "--web-port", str(where.port or 8089),
        "--exit-code-on-error", "0",
    ]  # fmt: skip
    logger.info("Starting the load: %s", " ".join(command[2:]))
    _loads[url] = subprocess.Popen(command)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while current_rps(url) <= 0:
        if time.monotonic() > deadline or _loads[url].poll() is not None:
            raise RuntimeError(f"the load never started answering at {url}")
        time.sleep(0.5)
    with contextlib.suppress(requests.RequestException):  # the load's windows
        # (chaos/window_route.py) are kept from now on
        requests.get(f"{url.rstrip('/')}/obstack/window", params={"seconds": 1}, timeout=5)
    time.sleep(settings.warmup_s)


def after_experiment_control(
    context: dict[str, Any], configuration: dict | None = None, **kwargs: Any
) -> None:
    url = (configuration or {}).get("locust_web_url", "http://127.0.0.1:8089")
    process = _loads.pop(url, None)
    if process is None:
        return
    logger.info("Stopping the load")
    process.terminate()
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()


OUR_ACTIONS = "obstack_load.chaos.activities"  # they note their own faults


def _foreign_action(activity: dict[str, Any]) -> str | None:
    provider = activity.get("provider") or {}
    if activity.get("type") != "action" or provider.get("module") == OUR_ACTIONS:
        return None
    return f"action {activity.get('name', provider.get('func', '?'))}"


def before_activity_control(
    context: dict[str, Any], configuration: dict | None = None, **kwargs: Any
) -> None:
    fault = _foreign_action(context)
    if fault:
        runs.note_fault(configuration, fault, True)


def after_activity_control(
    context: dict[str, Any], configuration: dict | None = None, **kwargs: Any
) -> None:
    fault = _foreign_action(context)
    if fault:
        runs.note_fault(configuration, fault, False)


def locust_stats(url: str) -> dict[str, Any]:
    """A Locust web UI's current stats (``/stats/requests``, what its own charts read); raises
    ``requests.RequestException`` or ``ValueError`` when it does not answer with them."""
    return requests.get(f"{url.rstrip('/')}/stats/requests", timeout=5).json()


def current_rps(url: str) -> float:
    """The load's current requests/s there, 0 when nothing answers."""
    try:
        return locust_stats(url).get("current_rps", 0.0)
    except (requests.RequestException, ValueError):
        return 0.0

"""The suite's Chaos Toolkit activities: probes and actions an experiment names as Python
providers (``module: obstack_load.chaos.activities``).

Probes judge the load and the health monitor of the run the experiment is attached to
(``runs.of(configuration)``): ``error_rate`` and ``latency_ms`` over a window of Locust's
stats, ``healthy`` for one of the monitor's probes. Actions are the faults, and each records
when it was put on and taken off, which the verdict measures recovery from:

- the fault proxy (Toxiproxy's API at ``toxiproxy_url``): ``disable_proxy``/``enable_proxy``
  (a service down, a partition), ``add_toxic``/``remove_toxic``, ``reset_proxies``;
- processes: ``kill_process`` (SIGKILL, as a pod deleted; its supervisor restarts it) and
  ``pause_process`` (SIGSTOP, then SIGCONT);
- ``tc netem`` in a network namespace: ``add_netem``/``remove_netem``;
- the platform's fault file (``--test-fault-file``): ``write_fault_file``/``remove_fault_file``;
- ``observe``: nothing, for an observe-only run, whose fault comes from elsewhere;
- ``wait_for_recovery``: until the steady-state hypothesis holds again, within the budget.

Under Chaos Toolkit's own ``chaos run`` no Locust run is attached: the actions work the same
and note their changes in ``runs.unattached``, ``healthy`` asks the target itself
(``obstack_host``), the load probes read a window of a Locust run's web UI (``locust_web_url``:
the suite's ``/obstack/window``, which starts no earlier than the last fault change, as an
attached run's windows do), and ``wait_for_recovery`` waits for the whole steady-state
hypothesis the control was given.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

import requests
from chaoslib.exceptions import ActivityFailed

from obstack_load.chaos import netem, runs
from obstack_load.chaos.control import locust_stats
from obstack_load.chaos.experiment import longest_window_s

logger = logging.getLogger("obstack_load.chaos")
NO_REQUESTS_ERROR_RATE = 1.0  # a window in which nothing completed is not a healthy one
NO_REQUESTS_LATENCY_MS = 1e9
UNATTACHED_MAX_ERROR_RATE = 0.01


def _record(configuration: dict | None, fault: str, on: bool) -> None:
    runs.note_fault(configuration, fault, on)


# -- probes ------------------------------------------------------------------------------------


def _locust_web_ui(configuration: dict | None, what: str) -> dict[str, Any]:
    """Under Chaos Toolkit's own ``chaos run``: the current stats of a Locust run's web UI
    (``locust_web_url``), as Locust's own charts read them (``/stats/requests``)."""
    url = (configuration or {}).get("locust_web_url")
    if not url:
        raise ActivityFailed(
            f"{what} needs the load: run the experiment with `obstack-load chaos run` or "
            "`locust --chaos-experiment`, or give `chaos run` a Locust web UI to read with "
            "--var locust_web_url=http://127.0.0.1:8089"
        )
    try:
        return locust_stats(url)
    except (requests.RequestException, ValueError) as exc:
        raise ActivityFailed(f"the Locust web UI at {url} did not answer: {exc}") from None


def _load_window(configuration: dict | None, window_s: float, percentile: float, what: str
                 ) -> dict[str, Any] | None:  # fmt: skip
    """Under ``chaos run``: the load's window from the suite's ``/obstack/window`` on the Locust
    web UI, since the last fault change; None when that Locust does not serve it (not ours)."""
    url = (configuration or {}).get("locust_web_url")
    if not url:
        _locust_web_ui(configuration, what)  # raises, saying what is needed
    try:
        answer = requests.get(f"{url.rstrip('/')}/obstack/window", timeout=5, params={
            "seconds": window_s, "since": runs.unattached.last_change(), "percentile": percentile,
        })  # fmt: skip
    except requests.RequestException as exc:
        raise ActivityFailed(f"the Locust web UI at {url} did not answer: {exc}") from None
    if answer.status_code == 404:
        return None
    try:
        answer.raise_for_status()
        return answer.json()
    except (requests.RequestException, ValueError) as exc:
        raise ActivityFailed(f"the Locust web UI at {url}: {exc}") from None


def error_rate(window_s: float = 10.0, configuration: dict | None = None) -> float:
    """The fraction of the load's requests that failed in the last ``window_s`` seconds, never
    reaching back past the last fault change (under ``chaos run``, from a Locust web UI that is
    not the suite's: its current failures per second over its current requests per second)."""
    run = runs.of(configuration)
    if run is None:
        found = _load_window(configuration, window_s, 0.95, "error_rate")
        if found is not None:
            requests_n = found["requests"]
            return found["failures"] / requests_n if requests_n else NO_REQUESTS_ERROR_RATE
        stats = _locust_web_ui(configuration, "error_rate")
        rps = stats.get("current_rps") or 0.0
        return stats.get("current_fail_per_sec", 0.0) / rps if rps else NO_REQUESTS_ERROR_RATE
    total = run.window(window_s).total
    return total.fail_ratio if total.num_requests else NO_REQUESTS_ERROR_RATE


def latency_ms(
    percentile: float = 95.0, window_s: float = 10.0, configuration: dict | None = None
) -> float:
    """The load's latency at ``percentile`` over the last ``window_s`` seconds, never reaching
    back past the last fault change, in ms (under ``chaos run``, from a Locust web UI that is not
    the suite's: its current 50th or 95th percentile, over its last 10 s)."""
    run = runs.of(configuration)
    if run is None:
        found = _load_window(configuration, window_s, percentile / 100, "latency_ms")
        if found is not None:
            value = found["percentile_ms"]
            return NO_REQUESTS_LATENCY_MS if value is None else float(value)
        current = _locust_web_ui(configuration, "latency_ms").get(
            "current_response_time_percentiles"
        )
        value = (current or {}).get(f"response_time_percentile_{percentile / 100:g}")
        if value is None:
            raise ActivityFailed(f"Locust's web UI has no current {percentile:g}th percentile")
        return float(value)
    total = run.window(window_s).total
    if not total.num_requests:
        return NO_REQUESTS_LATENCY_MS
    return float(total.get_response_time_percentile(percentile / 100))


def healthy(probe: str = "readyz", configuration: dict | None = None) -> bool:
    """Whether the health monitor holds ``probe`` (healthz, readyz or e2e) healthy now; under
    ``chaos run``, whether the check passes now against ``obstack_host``."""
    run = runs.of(configuration)
    if run is not None:
        state = run.monitor.states.get(probe)
        if state is None:
            raise ActivityFailed(f"the health monitor has no probe {probe!r}")
        return state.healthy
    if probe not in ("healthz", "readyz", "e2e"):
        raise ActivityFailed(f"there is no health probe {probe!r}: healthz, readyz or e2e")
    from obstack_load.core.tenants import population
    from obstack_load.monitor.checks import HealthChecks

    host = (configuration or {}).get("obstack_host", "http://127.0.0.1:8080")
    check = getattr(HealthChecks(), probe)
    try:
        return check(requests.Session(), host, population(None).tenants[0], 2.0) == ""
    except requests.RequestException:
        return False


# -- the fault proxy ---------------------------------------------------------------------------


def _proxy_api(configuration: dict | None, method: str, path: str, body: Any = None) -> Any:
    url = (configuration or {}).get("toxiproxy_url", "http://127.0.0.1:8474").rstrip("/")
    try:
        response = requests.request(method, f"{url}{path}", json=body, timeout=10)
    except requests.RequestException as exc:
        raise ActivityFailed(f"the fault proxy at {url} did not answer: {exc}") from None
    if not response.ok:
        raise ActivityFailed(f"the fault proxy answered {response.status_code}: {response.text}")
    return response.json() if response.content else None


def disable_proxy(proxy: str, configuration: dict | None = None) -> None:
    """The proxy refuses connections and drops the ones it has: a service down, a partition."""
    _proxy_api(configuration, "POST", f"/proxies/{proxy}", {"enabled": False})
    _record(configuration, f"proxy {proxy} down", True)


def enable_proxy(proxy: str, configuration: dict | None = None) -> None:
    _proxy_api(configuration, "POST", f"/proxies/{proxy}", {"enabled": True})
    _record(configuration, f"proxy {proxy} down", False)


def add_toxic(
    proxy: str, toxic_type: str, attributes: dict[str, float] | None = None,
    stream: str = "downstream", toxicity: float = 1.0, toxic_name: str | None = None,
    configuration: dict | None = None,
) -> None:  # fmt: skip
    name = toxic_name or f"{toxic_type}_{stream}"
    body = {"name": name, "type": toxic_type, "stream": stream, "toxicity": toxicity,
            "attributes": attributes or {}}  # fmt: skip
    _proxy_api(configuration, "POST", f"/proxies/{proxy}/toxics", body)
    _record(configuration, f"toxic {proxy}/{name}", True)


def remove_toxic(proxy: str, toxic_name: str, configuration: dict | None = None) -> None:
    _proxy_api(configuration, "DELETE", f"/proxies/{proxy}/toxics/{toxic_name}")
    _record(configuration, f"toxic {proxy}/{toxic_name}", False)


def reset_proxies(configuration: dict | None = None) -> None:
    """Every proxy enabled and every toxic gone: the rollback of every proxy fault."""
    _proxy_api(configuration, "POST", "/reset")
    run = runs.of(configuration)
    if run is not None:
        for fault in sorted(run.active()):
            if fault.startswith(("proxy ", "toxic ")):
                run.fault(fault, False)


# -- processes ---------------------------------------------------------------------------------


def _pid(pidfile: str) -> int:
    try:
        return int(Path(pidfile).read_text().strip())
    except (OSError, ValueError) as exc:
        raise ActivityFailed(f"no process id in {pidfile}: {exc}") from None


def kill_process(pidfile: str, configuration: dict | None = None) -> int:
    """SIGKILL the process named by ``pidfile``, as a pod deleted; its supervisor (``obstack-load
    supervise``) starts it again, as a pod's controller would. The fault is over at once: the
    recovery time runs from the kill."""
    pid = _pid(pidfile)
    os.kill(pid, signal.SIGKILL)
    _record(configuration, f"killed {pidfile}", True)
    _record(configuration, f"killed {pidfile}", False)
    return pid


def pause_process(pidfile: str, seconds: float, configuration: dict | None = None) -> int:
    """SIGSTOP, then SIGCONT after ``seconds``: a process that hangs and comes back."""
    pid = _pid(pidfile)
    seconds = float(seconds)
    os.kill(pid, signal.SIGSTOP)
    _record(configuration, f"paused {pidfile}", True)
    try:
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)
        _record(configuration, f"paused {pidfile}", False)
    return pid


# -- the network -------------------------------------------------------------------------------


def add_netem(
    namespace: str, device: str, delay_ms: float = 0.0, jitter_ms: float = 0.0,
    loss_percent: float = 0.0, configuration: dict | None = None,
) -> None:  # fmt: skip
    try:
        netem.apply(namespace, device, netem.Netem(delay_ms, jitter_ms, loss_percent))
    except netem.NetemUnavailable as exc:
        raise ActivityFailed(str(exc)) from None
    _record(configuration, f"netem {namespace}/{device}", True)


def remove_netem(namespace: str, device: str, configuration: dict | None = None) -> None:
    netem.remove(namespace, device)
    _record(configuration, f"netem {namespace}/{device}", False)


# -- the platform's fault file -----------------------------------------------------------------


def write_fault_file(
    path: str, fault: str = "ingest-503", configuration: dict | None = None
) -> None:
    """Turn on a fault of a platform started with ``--test-fault-file PATH``: ``ingest-503``
    answers every ingestion request 503 with Retry-After (an ingestion 503 storm)."""
    Path(path).write_text(fault + "\n")
    _record(configuration, f"fault file {fault}", True)


def remove_fault_file(path: str, configuration: dict | None = None) -> None:
    fault = Path(path).read_text().strip() if Path(path).exists() else "ingest-503"
    Path(path).unlink(missing_ok=True)
    _record(configuration, f"fault file {fault}", False)


# -- a fault from elsewhere ---------------------------------------------------------------------


def observe(seconds: float, configuration: dict | None = None) -> float:
    """An observe-only window: nothing is done here; the fault comes from elsewhere (Chaos
    Mesh, Litmus, a person) within these ``seconds``, while the health monitor times the
    target's unhealthy periods and the data check counts what it lost. The window is noted as
    the fault's time, so the recovery budget runs from its end."""
    seconds = float(seconds)  # from an environment variable, Chaos Toolkit passes a string
    _record(configuration, "observed window", True)
    try:
        time.sleep(seconds)
    finally:
        _record(configuration, "observed window", False)
    return seconds


# -- recovery ----------------------------------------------------------------------------------


def hypothesis_holds(experiment: dict[str, Any], configuration: dict | None) -> tuple[bool, str]:
    """Whether every probe of the steady-state hypothesis is within its tolerance now, and the
    first that is not."""
    from chaoslib.activity import run_activity
    from chaoslib.hypothesis import within_tolerance

    for probe in (experiment.get("steady-state-hypothesis") or {}).get("probes", []):
        try:
            value = run_activity(probe, configuration or {}, {})
        except ActivityFailed as exc:
            return False, f"{probe['name']}: {exc}"
        if not within_tolerance(probe["tolerance"], value, configuration or {}, {}):
            return False, f"{probe['name']} = {value!r}"
    return True, ""


def wait_for_recovery(
    poll_s: float = 1.0, budget_s: float = 60.0, configuration: dict | None = None
) -> float:
    """Wait until the steady-state hypothesis holds again, at most the recovery budget; return
    the seconds it took from the fault's removal (``budget_s`` is for ``chaos run``; attached to
    a run, the experiment's ``recovery_budget_s`` is). It does not raise when the budget runs out:
    Chaos Toolkit's own check after the method then fails, and the verdict says why."""
    run = runs.of(configuration)
    if run is not None:
        removed = run.last_off() or time.time()
        recovered = _wait_for_hypothesis(run.settings.experiment, removed,
                                         run.settings.recovery_budget_s, poll_s, configuration)  # fmt: skip
        if recovered is None:
            return -1.0
        run.recovered_at = recovered
        return recovered - removed
    if runs.unattached.experiment is None:  # no control brought the experiment: not ours
        return _wait_unattached(poll_s, budget_s, configuration)
    removed = runs.unattached.last_off() or time.time()
    recovered = _wait_for_hypothesis(runs.unattached.experiment, removed,
                                     runs.unattached.recovery_budget_s or budget_s, poll_s,
                                     configuration)  # fmt: skip
    return -1.0 if recovered is None else recovered - removed


def _wait_for_hypothesis(experiment: dict[str, Any], removed: float, budget_s: float,
                         poll_s: float, configuration: dict | None) -> float | None:  # fmt: skip
    """When (unix s) every probe of the hypothesis held again, polled every ``poll_s`` from the
    fault's removal; None when it had not by the budget's end.

    It must then go on holding for the probes' longest window: a window counts the requests
    that completed in it, so one judged while the outage's stragglers are still in flight (a
    request waiting seconds on a database pool that is reconnecting) holds, and the check after
    the method, a moment later, counts them (CI: the wait returned at 2.1 s after the database
    came back, and the check after it found a p95 of 1.5 s)."""
    deadline = removed + budget_s
    confirm_s = longest_window_s(experiment)
    # the hypothesis judges a window since the removal: give it a poll's worth of requests
    time.sleep(max(0.0, removed + poll_s - time.time()))
    held_since: float | None = None
    while True:
        holds, failing = hypothesis_holds(experiment, configuration)
        now = time.time()
        if holds:
            held_since = held_since or now
            if now - held_since >= confirm_s:
                return held_since
        else:
            if held_since is not None:
                logger.info("steady state held from %.1f s, then not: %s", held_since - removed,
                            failing)  # fmt: skip
            held_since = None
            logger.info("steady state not back yet: %s", failing)
            if now >= deadline:
                return None
        time.sleep(poll_s)


def _wait_unattached(poll_s: float, budget_s: float, configuration: dict | None) -> float:
    """Under ``chaos run`` the hypothesis is Chaos Toolkit's, out of our reach: wait until the
    target's /readyz answers 2xx and the load's current error rate (Locust's web UI, when
    ``locust_web_url`` is set) is under 1%, at most ``budget_s``; Chaos Toolkit's own check
    after the method then judges the hypothesis."""
    started = time.time()
    while True:
        ready = healthy("readyz", configuration)
        if ready and (configuration or {}).get("locust_web_url"):
            ready = error_rate(configuration=configuration) <= UNATTACHED_MAX_ERROR_RATE
        if ready:
            return time.time() - started
        if time.time() - started >= budget_s:
            return -1.0
        time.sleep(poll_s)

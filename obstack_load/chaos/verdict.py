"""A chaos experiment's verdict: did the platform hold, degrade within the allowance, and
come back within the budget; how long it took; what data it lost; and a resilience score.

It passes when the steady state held before the fault, every allowance (and other moded)
probe held, the steady state was back within the recovery budget after the fault was removed,
every monitor probe was healthy again, and no more accepted points were lost than allowed.
The reason for a failure is one line naming what failed: the probe that did not recover, the
allowance that was broken, the points that were lost.

The resilience score follows Litmus: each check scores 100 when it passed and 0 when not, and
the score is their weighted mean (every check weighs 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ModeProbe:
    """A probe checked at the moments its Litmus mode names."""

    name: str
    mode: str
    checks: int = 0
    failures: int = 0
    first_failure: str = ""

    def record(self, ok: bool, detail: str) -> None:
        self.checks += 1
        if not ok:
            self.failures += 1
            self.first_failure = self.first_failure or detail

    @property
    def passed(self) -> bool:
        return self.failures == 0


@dataclass
class DataCheck:
    accepted: int = 0
    refused: int = 0  # answered 503/429 or not at all: never promised
    found: int | None = None  # None: not read back

    @property
    def lost(self) -> int | None:
        return None if self.found is None else max(0, self.accepted - self.found)


@dataclass
class Verdict:
    passed: bool
    reason: str
    recovery_s: float | None  # fault removed -> steady state again (None: it never was)
    probe_recovery_s: dict[str, float | None]
    endpoint_recovery_s: dict[str, float | None]
    data: dict[str, int | None]
    score: float
    checks: list[dict[str, Any]] = field(default_factory=list)
    fault_on_at: float | None = None
    fault_off_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def words(self) -> str:
        """The one line the run prints."""
        recovery = "-" if self.recovery_s is None else f"{self.recovery_s:.1f} s"
        lost = self.data.get("lost")
        data = (
            f"{lost} of {self.data['accepted']} accepted points lost"
            if lost is not None else "data not checked"
        )  # fmt: skip
        head = "PASSED" if self.passed else f"FAILED: {self.reason}"
        return f"chaos verdict: {head}; recovery time {recovery}; {data}; resilience score {self.score:.0f}%"


def probe_recovery(
    monitor: dict[str, dict[str, Any]], fault_on: float | None, fault_off: float | None
) -> dict[str, float | None]:
    """Per monitor probe: seconds from the fault's removal to the end of its unhealthy period
    that began with the fault; 0 when it never turned unhealthy; None while it stays unhealthy."""
    out: dict[str, float | None] = {}
    for name, result in monitor.items():
        out[name] = 0.0
        if fault_on is None or fault_off is None:
            continue
        for period in result["unhealthy_periods"]:
            if period["start"] < fault_on - 1e-6:
                continue  # before the fault: not the fault's doing
            if period["end"] is None:  # still unhealthy when the run ended
                out[name] = None
                break
            out[name] = max(out[name] or 0.0, period["end"] - fault_off)
    return out


def decide(
    *, journal: dict[str, Any], probes: list[ModeProbe], monitor: dict[str, dict[str, Any]],
    fault_on: float | None, fault_off: float | None, recovered_at: float | None,
    budget_s: float, not_recovered: str, endpoints: dict[str, float | None],
    data: DataCheck, verify_data: bool, max_data_lost: int, interrupted: bool = False,
) -> Verdict:  # fmt: skip
    """The verdict from what the run recorded. ``not_recovered`` names the hypothesis probe
    still out of tolerance when the budget ran out ("" when it recovered)."""
    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        checks.append({"name": name, "passed": ok, "detail": detail})

    failed_activity = next(
        (r for r in journal.get("run", []) if r.get("status") == "failed"
         and r.get("activity", {}).get("type") == "action"), None,
    )  # fmt: skip
    before = (journal.get("steady_states") or {}).get("before") or {}
    before_ok = bool(before.get("steady_state_met"))
    check("steady state before the fault", before_ok, _failing_probe(before))
    for probe in probes:
        check(f"{probe.name} ({probe.mode})", probe.passed, probe.first_failure)
    recovery_s = None if recovered_at is None or fault_off is None else recovered_at - fault_off
    by_probe = probe_recovery(monitor, fault_on, fault_off)
    late_probes = [
        n for n, s in by_probe.items() if s is None or s > budget_s
    ]  # fmt: skip
    recovered = recovery_s is not None and recovery_s <= budget_s and not late_probes
    check("back in steady state within the budget", recovered, not_recovered)
    if verify_data:
        lost = data.lost
        check("no accepted data lost", lost is not None and lost <= max_data_lost,
              "" if lost is None else f"{lost} lost")  # fmt: skip

    reason = ""
    if interrupted:
        reason = "the run ended before the experiment did"
    elif failed_activity is not None:
        reason = (f"the action {failed_activity['activity'].get('name')!r} failed: "
                  f"{' '.join(str(failed_activity.get('exception', [''])[-1]).split())}")  # fmt: skip
    elif not before_ok:
        reason = f"the steady state did not hold before the fault ({_failing_probe(before)})"
    elif fault_off is None:
        reason = "no fault was removed: the method put none on, or left one on"
    else:
        broken = next((p for p in probes if not p.passed), None)
        if broken is not None:
            when = "during the fault" if broken.mode == "during" else f"({broken.mode})"
            reason = f"{broken.name} was out of tolerance {when}: {broken.first_failure}"
        elif not recovered:
            names = late_probes or [not_recovered.split(":")[0].split(" = ")[0] or "steady state"]
            reason = (f"{', '.join(names)} did not recover within the {budget_s:g} s recovery "
                      f"budget" + (f" ({not_recovered})" if not_recovered else ""))  # fmt: skip
        elif verify_data and (data.lost is None or data.lost > max_data_lost):
            reason = (
                "the points accepted during the experiment could not be read back"
                if data.lost is None
                else f"{data.lost} of {data.accepted} points accepted during the experiment "
                f"were not read back"
            )  # fmt: skip
    score = 100.0 * sum(c["passed"] for c in checks) / len(checks)
    return Verdict(
        passed=not reason, reason=reason, recovery_s=recovery_s, probe_recovery_s=by_probe,
        endpoint_recovery_s=endpoints,
        data={"accepted": data.accepted, "refused": data.refused, "found": data.found,
              "lost": data.lost},
        score=score, checks=checks, fault_on_at=fault_on, fault_off_at=fault_off,
    )  # fmt: skip


def _failing_probe(state: dict[str, Any]) -> str:
    for probe in state.get("probes", []):
        if not probe.get("tolerance_met", True):
            return f"{probe['activity']['name']} = {probe.get('output')!r}"
    return ""

"""The verdict from what a run recorded: each way an experiment fails names what failed in one
line, recovery is measured from the fault's removal, and the score is Litmus's mean of checks."""

from __future__ import annotations

from obstack_load.chaos.verdict import DataCheck, ModeProbe, decide, probe_recovery

ON, OFF = 100.0, 130.0
MET = {"steady_states": {"before": {"steady_state_met": True, "probes": []}}, "run": []}


def monitor(**periods) -> dict:
    """Each probe's result, from its unhealthy periods as (start, end or None)."""
    return {
        name: {
            "unhealthy_periods": [{"start": s, "end": e} for s, e in spans],
            "healthy_at_end": not spans or spans[-1][1] is not None,
        }
        for name, spans in periods.items()
    }


def judge(**overrides):
    settings = dict(
        journal=MET, probes=[], monitor=monitor(healthz=[], readyz=[(101.0, 135.5)]),
        fault_on=ON, fault_off=OFF, recovered_at=136.0, budget_s=30.0, not_recovered="",
        endpoints={"GET /api/v1/alerts": 4.0}, data=DataCheck(accepted=50, refused=10, found=50),
        verify_data=True, max_data_lost=0,
    )  # fmt: skip
    settings.update(overrides)
    return decide(**settings)


def test_a_recovery_within_the_budget_passes_with_its_times():
    verdict = judge()
    assert verdict.passed and verdict.reason == "" and verdict.score == 100.0
    assert verdict.recovery_s == 6.0
    assert verdict.probe_recovery_s == {"healthz": 0.0, "readyz": 5.5}
    assert verdict.data == {"accepted": 50, "refused": 10, "found": 50, "lost": 0}
    assert verdict.words().startswith("chaos verdict: PASSED; recovery time 6.0 s; 0 of 50")


def test_a_probe_still_unhealthy_fails_naming_it():
    verdict = judge(monitor=monitor(readyz=[(101.0, None)]), recovered_at=None,
                    not_recovered="platform-ready = False")  # fmt: skip
    assert not verdict.passed
    assert verdict.reason == (
        "readyz did not recover within the 30 s recovery budget (platform-ready = False)"
    )
    assert verdict.probe_recovery_s["readyz"] is None and verdict.recovery_s is None
    assert round(verdict.score, 1) == 66.7  # 2 of 3 checks: before, recovered, data


def test_a_recovery_after_the_budget_fails():
    verdict = judge(monitor=monitor(readyz=[(101.0, 175.0)]))
    assert not verdict.passed and verdict.reason.startswith("readyz did not recover within")


def test_an_unhealthy_period_before_the_fault_is_not_the_faults_doing():
    assert probe_recovery(monitor(readyz=[(50.0, 60.0)]), ON, OFF) == {"readyz": 0.0}


def test_the_allowance_broken_during_the_fault_fails_naming_it():
    probe = ModeProbe("error-rate-within-50pc", "during")
    probe.record(True, "0.1")
    probe.record(False, "0.9")
    verdict = judge(probes=[probe])
    assert verdict.reason == "error-rate-within-50pc was out of tolerance during the fault: 0.9"


def test_lost_points_fail_and_unread_points_too():
    lost = judge(data=DataCheck(accepted=50, found=47))
    assert lost.reason == "3 of 50 points accepted during the experiment were not read back"
    assert lost.data["lost"] == 3
    unread = judge(data=DataCheck(accepted=50, found=None))
    assert unread.reason == "the points accepted during the experiment could not be read back"
    assert judge(data=DataCheck(), verify_data=False).passed


def test_no_steady_state_before_and_a_failed_action_come_first():
    journal = {"steady_states": {"before": {"steady_state_met": False, "probes": [
        {"activity": {"name": "p95-under-1s"}, "tolerance_met": False, "output": 1500.0}]}},
        "run": []}  # fmt: skip
    assert judge(journal=journal).reason == (
        "the steady state did not hold before the fault (p95-under-1s = 1500.0)"
    )
    failed = {**MET, "run": [{"status": "failed", "activity": {"type": "action", "name": "x"},
                              "exception": ["Traceback", "ActivityFailed: no sch_netem\n"]}]}  # fmt: skip
    assert judge(journal=failed).reason == "the action 'x' failed: ActivityFailed: no sch_netem"
    assert judge(interrupted=True).reason == "the run ended before the experiment did"

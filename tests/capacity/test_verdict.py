"""Reading the steps: the knee, the endpoint that degraded first, and what saturated."""

from __future__ import annotations

from obstack_load.capacity.verdict import Step, find, knee

SLO_OK = [{"expression": "p(95)<500", "metric": "p", "observed": 20.0, "passed": True}]
SLO_BROKEN = [{"expression": "p(95)<500", "metric": "p", "observed": 900.0, "passed": False}]


def step(rate, p95, passed, **extra) -> Step:
    return Step(
        offered_rate=rate, achieved_rps=min(rate, 200), seconds=10, requests=int(rate * 10),
        failures=0, p95_ms=p95, raw_p95_ms=p95, passed=passed, settled=True,
        slo_results=SLO_OK if passed else SLO_BROKEN, **extra,
    )  # fmt: skip


def hockey_stick(**extra) -> list[Step]:
    return [
        step(50, 20, True, endpoints_p95_ms={"/a": 20, "/b": 10}, **extra),
        step(100, 21, True, endpoints_p95_ms={"/a": 21, "/b": 10}, **extra),
        step(150, 24, True, endpoints_p95_ms={"/a": 50, "/b": 11}, **extra),
        step(175, 40, True, endpoints_p95_ms={"/a": 80, "/b": 30}, **extra),
        step(200, 900, False, endpoints_p95_ms={"/a": 950, "/b": 800}, **extra),
    ]


def test_the_knee_is_where_the_curve_bends():
    assert 150 <= knee(hockey_stick()) <= 200


def test_a_busy_target_is_the_limit_and_the_words_say_so():
    finding = find(hockey_stick(target_cpu=0.97, generator_cpu=0.4), "bracketed", 175, 200)
    assert finding.capacity == 175 and finding.limit == "target-cpu"
    assert not finding.generator_bound
    assert finding.degraded_first == ("/a", 150)
    text = " ".join(finding.words)
    assert "Capacity 175 iterations/s (below 200)" in text and "97%" in text and "40%" in text


def test_latency_without_a_busy_cpu_is_a_queue_inside_the_target():
    finding = find(hockey_stick(target_cpu=0.3, generator_cpu=0.3), "bracketed", 175, 200)
    assert finding.limit == "latency"


def test_a_starved_generator_claims_no_capacity():
    steps = hockey_stick(target_cpu=0.1, generator_cpu=0.2)
    # most iterations late while the target answers as fast as ever: the generator could not
    # offer the rate (its corrected latency grows, its raw latency does not)
    steps[-1].late_ratio, steps[-1].raw_p95_ms = 0.6, 21
    finding = find(steps, "bracketed", 175, 200)
    assert finding.generator_bound and finding.capacity is None and finding.limit == "generator"
    assert "Add workers" in " ".join(finding.words)


def test_late_iterations_behind_a_slow_target_are_the_targets_queue():
    steps = hockey_stick(target_cpu=0.2, generator_cpu=0.3)
    steps[-1].late_ratio = 0.6  # every user waits on the target: its raw latency grew too
    finding = find(steps, "bracketed", 175, 200)
    assert not finding.generator_bound and finding.limit == "latency"


def test_a_step_broken_by_rising_latency_names_a_queue_not_errors():
    """A step that starts drained (after an overloaded one) may break only because its
    latency kept rising, before its p95 crossed the SLO: that is a queue growing."""
    steps = hockey_stick()
    steps[-1] = step(200, 290, False)
    steps[-1].slo_results, steps[-1].settled = SLO_OK, False
    finding = find(steps, "bracketed", 175, 200)
    assert finding.limit == "latency"
    assert "at 200 iterations/s offered, the latency kept rising;" in " ".join(finding.words)
    failing = [{"expression": "rate<0.01", "metric": "rate", "observed": 0.2, "passed": False}]
    steps[-1].slo_results = failing
    assert find(steps, "bracketed", 175, 200).limit == "errors"


def test_a_latency_limit_with_the_target_cpu_na_claims_nothing_of_the_cpu():
    steps = hockey_stick(target_cpu=None, generator_cpu=0.2)
    finding = find(steps, "bracketed", 175, 200)
    text = " ".join(finding.words)
    assert finding.limit == "latency" and "short of saturation" not in text
    assert "the target's CPU was n/a" in text


def test_a_busy_machine_doubling_the_raw_p95_does_not_hide_a_starved_generator():
    """One user against a fast target: its steps past ~45/s break with late iterations. A busy
    machine's hiccups can double the raw p95 (here 25 to 60 ms) while the raw median stays at
    21 ms: the target kept up, and the generator was the limit (CI named the target's queue)."""
    steps = [step(20, 25, True, raw_p50_ms=21.0), step(40, 25, True, raw_p50_ms=21.0)]
    for rate in (80, 60):
        broken = step(rate, 1000, False, raw_p50_ms=21.0, late_ratio=0.7)
        broken.raw_p95_ms = 60.0
        steps.append(broken)
    assert find(steps, "bracketed", 40, 60).limit == "generator"
    # a target whose queue grew moves its median too: that is the target's limit
    for broken in steps[2:]:
        broken.raw_p50_ms = 400.0
    assert find(steps, "bracketed", 40, 60).limit != "generator"

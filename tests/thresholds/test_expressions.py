"""The threshold parser, property-tested: valid expressions round-trip, anything else is a clear error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obstack_load.thresholds.expressions import METRICS, OPERATORS, ThresholdError, parse

REQUEST_METRICS = [m for m in METRICS if METRICS[m] == METRICS["avg"] and m != "p"]
names = (
    st.text(
        alphabet=st.characters(blacklist_characters="{}\n\r", blacklist_categories=("Cs", "Cc")),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)
numbers = st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False)


@st.composite
def expressions(draw) -> tuple[str, dict]:
    op = draw(st.sampled_from(sorted(OPERATORS)))
    limit = draw(numbers)
    if draw(st.booleans()):
        pct = draw(st.floats(min_value=0.01, max_value=100, allow_nan=False))
        metric, text = "p", f"p({pct!r})"
    else:
        metric = draw(st.sampled_from(REQUEST_METRICS))
        text = metric
    scope = draw(st.sampled_from(["", "name", "method"]))
    value = draw(names) if scope else ""
    space = draw(st.sampled_from(["", " ", "  "]))
    expression = f"{text}{space}{'{' + scope + '=' + value + '}' if scope else ''}{space}{op}{space}{limit!r}"
    return expression, {
        "metric": metric,
        "scope_kind": scope,
        "scope_value": value,
        "op": op,
        "limit": limit,
    }


@settings(max_examples=400, deadline=None)
@given(expressions())
def test_valid_expressions_parse_to_what_they_say(case):
    expression, expected = case
    threshold = parse(expression)
    for key, value in expected.items():
        assert getattr(threshold, key) == value, (expression, key)
    again = parse(threshold.canonical())
    assert (again.metric, again.scope_kind, again.scope_value, again.op) == (
        threshold.metric,
        threshold.scope_kind,
        threshold.scope_value,
        threshold.op,
    )
    assert again.limit == pytest.approx(threshold.limit, rel=1e-5)


@settings(max_examples=600, deadline=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_raises_a_named_error(text):
    try:
        parse(text)
    except ThresholdError as exc:
        assert str(exc).startswith("threshold ")
        assert "\n" not in exc.problem


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("p95<500", "unknown metric 'p95'"),
        ("p(0)<500", "percentile must be in (0, 100]"),
        ("p(abc)<5", "percentile 'abc' is not a number"),
        ("p<5", "p needs a percentile"),
        ("avg(3)<5", "avg takes no argument"),
        ("rate<", "expected METRIC"),
        ("items<5", "items cannot be scoped by (none)"),
        ("items{signal=profiles}>1", "signal must be logs, metrics or traces"),
        ("p(95){error=x}<5", "p cannot be scoped by error"),
        ("p(95){name=}<5", "needs a value"),
        ("", "is empty"),
        ("p(95)<500 warn>200", "must point the same way as <"),
        ("p(95)<500 warn<800", "must come before the failing bound 500"),
        ("rps>100 warn>50", "must come before the failing bound 100"),
        ("failures==0 warn<1", "cannot carry a warning bound"),
        ("p(95)<500 warn", "expected METRIC"),
    ],
)
def test_errors_say_what_is_wrong(expression, problem):
    with pytest.raises(ThresholdError) as caught:
        parse(expression)
    assert problem in str(caught.value)
    assert repr(expression) in str(caught.value)


def test_passes_and_no_data_fails():
    threshold = parse("p(95)<500")
    assert threshold.passes(499) and not threshold.passes(500) and not threshold.passes(None)
    assert parse("count{error=CrossTenantLeak}==0").passes(0)
    assert (
        parse("p(99.9){name=/api/v1/dashboards/[id]}<800").scope == "name=/api/v1/dashboards/[id]"
    )


def test_a_warning_bound_gives_three_levels():
    threshold = parse("p(95)<1000 warn<500")
    assert (threshold.limit, threshold.warn_op, threshold.warn_limit) == (1000, "<", 500)
    assert [threshold.level(v) for v in (200, 499, 500, 999, 1000, None)] == [
        "pass", "pass", "warn", "warn", "fail", "fail",
    ]  # fmt: skip
    assert parse("rps>100 warn>=200").level(150) == "warn"
    assert threshold.canonical() == "p(95)<1000 warn<500"

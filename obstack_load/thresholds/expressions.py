"""Parsing threshold expressions, k6-style.

    p(95)<500                       95th percentile of all requests under 500 ms
    p(99.9){name=/api/v1/login}<800 per request name ({method=GET}, {type=POST} work too)
    avg<200   max<2000   med<100    response time, ms
    rate<0.01                       failure ratio
    rps>1000   count>10   failures==0
    count{error=CrossTenantLeak}==0 occurrences of errors whose text contains the value
    items_per_s{signal=logs}>100000 accepted OTLP items per second (items, rejected, throttled too)
    db_index_usage{table=metric_points}>0.95   index scans / all scans over the run (db_cache_hit too)
    db_pool_utilization<0.8                    the platform's pool: time lent / time lendable
    p(95)<1000 warn<500             fails over 1,000 ms, warns over 500 ms (SCALE-001's levels)

A warning bound is stricter than the failing one, in the same direction. A warning is reported
everywhere a failure is, and fails the build only with ``--threshold-fail-on-warning``.

The grammar is one line, so a regular expression and a table of metrics serve better than a
parser library; every mistake names the expression and what is wrong with it.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

OPERATORS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
# metric -> the scope kinds it applies to ("" is all requests)
REQUEST_SCOPES = ("", "name", "method", "type")
METRICS = {
    "p": REQUEST_SCOPES,
    "avg": REQUEST_SCOPES,
    "min": REQUEST_SCOPES,
    "max": REQUEST_SCOPES,
    "med": REQUEST_SCOPES,
    "rate": REQUEST_SCOPES,
    "rps": REQUEST_SCOPES,
    "count": (*REQUEST_SCOPES, "error"),
    "failures": REQUEST_SCOPES,
    "items": ("signal",),
    "items_per_s": ("signal",),
    "rejected": ("signal",),
    "throttled": ("signal",),
    "lost": ("signal",),
    "missing": ("signal",),
    # measured by plugins (suite.figures_collecting): the database figures
    "db_index_usage": ("table",),
    "db_cache_hit": ("",),
    "db_pool_utilization": ("",),
    "db_pool_efficiency": ("",),
    "monitor_unhealthy_s": ("probe",),
    "monitor_recovery_s": ("probe",),
}
FIGURES = (
    "db_index_usage", "db_cache_hit", "db_pool_utilization", "db_pool_efficiency",
    "monitor_unhealthy_s", "monitor_recovery_s",
)  # fmt: skip
PATTERN = re.compile(
    r"""^\s*
    (?P<metric>[A-Za-z_][A-Za-z0-9_]*)
    (?:\(\s*(?P<arg>[^)]*?)\s*\))?
    \s*(?:\{\s*(?P<scope>[a-z]+)\s*=\s*(?P<value>[^}]*?)\s*\})?
    \s*(?P<op><=|>=|==|!=|<|>)
    \s*(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    (?:\s+warn\s*(?P<warn_op><=|>=|<|>)\s*(?P<warn>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))?
    \s*$""",
    re.VERBOSE,
)


PASS, WARN, FAIL = "pass", "warn", "fail"


class ThresholdError(ValueError):
    """A threshold expression that cannot be understood; the message names it."""

    def __init__(self, expression: str, problem: str) -> None:
        super().__init__(f"threshold {expression!r}: {problem}")
        self.expression = expression
        self.problem = problem


@dataclass(frozen=True)
class Threshold:
    expression: str
    metric: str
    percentile: float | None
    scope_kind: str  # "" for all requests
    scope_value: str
    op: str
    limit: float
    warn_op: str = ""
    warn_limit: float | None = None

    @property
    def scope(self) -> str:
        return f"{self.scope_kind}={self.scope_value}" if self.scope_kind else "total"

    def passes(self, observed: float | None) -> bool:
        """A metric with no data (no requests at all) fails, so a broken run never passes."""
        return observed is not None and OPERATORS[self.op](observed, self.limit)

    def level(self, observed: float | None) -> str:
        """``pass``, ``warn`` (past the warning bound only) or ``fail``."""
        if not self.passes(observed):
            return FAIL
        if self.warn_limit is not None and not OPERATORS[self.warn_op](observed, self.warn_limit):
            return WARN
        return PASS

    def canonical(self) -> str:
        metric = f"p({_number(self.percentile * 100)})" if self.metric == "p" else self.metric  # type: ignore[operator]
        scope = f"{{{self.scope_kind}={self.scope_value}}}" if self.scope_kind else ""
        warn = f" warn{self.warn_op}{_number(self.warn_limit)}" if self.warn_op else ""
        return f"{metric}{scope}{self.op}{_number(self.limit)}{warn}"


def _number(value: float) -> str:
    return f"{value:g}" if float(value) != int(value) or abs(value) >= 1e16 else str(int(value))


def parse(expression: str) -> Threshold:
    if not isinstance(expression, str) or not expression.strip():
        raise ThresholdError(str(expression), "is empty")
    match = PATTERN.match(expression)
    if not match:
        raise ThresholdError(
            expression,
            "expected METRIC[{scope=value}] OP NUMBER [warn OP NUMBER], e.g. p(95)<500, rate<0.01, p(99){name=/api/x}<800, p(95)<1000 warn<500",
        )
    metric, arg = match["metric"], match["arg"]
    if metric not in METRICS:
        hint = f" (did you mean p({metric[1:]})?)" if re.fullmatch(r"p\d+(\.\d+)?", metric) else ""
        raise ThresholdError(
            expression, f"unknown metric {metric!r}{hint}; use one of {', '.join(sorted(METRICS))}"
        )
    percentile = None
    if metric == "p":
        if arg is None:
            raise ThresholdError(expression, "p needs a percentile, e.g. p(95)")
        try:
            value = float(arg)
        except ValueError:
            raise ThresholdError(expression, f"percentile {arg!r} is not a number") from None
        if not 0 < value <= 100:
            raise ThresholdError(expression, f"percentile must be in (0, 100], got {arg}")
        percentile = value / 100
    elif arg is not None:
        raise ThresholdError(expression, f"{metric} takes no argument")
    scope_kind = match["scope"] or ""
    scope_value = match["value"] or ""
    if scope_kind and not scope_value:
        raise ThresholdError(expression, f"scope {{{scope_kind}=}} needs a value")
    if scope_kind not in METRICS[metric]:
        allowed = [s or "(none)" for s in METRICS[metric]]
        raise ThresholdError(
            expression,
            f"{metric} cannot be scoped by {scope_kind or '(none)'}; scopes: {', '.join(allowed)}",
        )
    if scope_kind == "signal" and scope_value not in ("logs", "metrics", "traces"):
        raise ThresholdError(
            expression, f"signal must be logs, metrics or traces, got {scope_value!r}"
        )
    limit = float(match["number"])
    warn_op, warn_limit = match["warn_op"] or "", None
    if warn_op:
        warn_limit = float(match["warn"])
        _check_warning(expression, match["op"], limit, warn_op, warn_limit)
    return Threshold(
        expression=expression.strip(),
        metric=metric,
        percentile=percentile,
        scope_kind=scope_kind,
        scope_value=scope_value,
        op=match["op"],
        limit=limit,
        warn_op=warn_op,
        warn_limit=warn_limit,
    )


def _check_warning(expression: str, op: str, limit: float, warn_op: str, warn: float) -> None:
    """A warning comes before the failure: the same direction, a stricter bound."""
    if op in ("==", "!="):
        raise ThresholdError(expression, f"a {op} threshold cannot carry a warning bound")
    if op[0] != warn_op[0]:
        raise ThresholdError(
            expression, f"the warning bound must point the same way as {op}, got warn{warn_op}"
        )
    stricter = warn <= limit if op[0] == "<" else warn >= limit
    if not stricter:
        raise ThresholdError(
            expression,
            f"the warning bound {_number(warn)} must come before the failing bound {_number(limit)}",
        )


def parse_all(expressions: list[str]) -> list[Threshold]:
    return [parse(e) for e in expressions]

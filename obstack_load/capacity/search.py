"""Which offered rate to try next: geometric steps up, then bisection.

From ``start`` the rate grows by ``factor`` while steps pass, up to ``maximum``. The first
failure brackets the capacity between the last pass and that failure, and bisection narrows the
bracket until it is within ``precision`` of its lower end. When even ``start`` fails, the search
steps down by the same factor until a step passes or ``floor`` is reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RateSearch:
    start: float
    maximum: float
    factor: float = 2.0
    precision: float = 0.05  # the bracket's width, relative to its lower end, that ends it
    max_steps: int = 20
    floor: float = 1.0
    tried: list[tuple[float, bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 0 < self.start <= self.maximum:
            raise ValueError("the start rate must be above 0 and at most the maximum")
        if self.factor <= 1:
            raise ValueError("the growth factor must be above 1")

    @property
    def passed(self) -> float | None:
        """The highest rate that held every SLO."""
        rates = [rate for rate, ok in self.tried if ok]
        return max(rates) if rates else None

    @property
    def failed(self) -> float | None:
        """The lowest rate that broke an SLO above the highest that held."""
        low = self.passed or 0.0
        rates = [rate for rate, ok in self.tried if not ok and rate > low]
        return min(rates) if rates else None

    def record(self, rate: float, passed: bool) -> None:
        self.tried.append((rate, passed))

    def next_rate(self) -> float | None:
        """The next rate to try, or None when the search is over."""
        if not self.tried:
            return self.start
        if len(self.tried) >= self.max_steps:
            return None
        low, high = self.passed, self.failed
        if high is None:  # every step so far passed: grow, until the maximum has passed
            return None if low >= self.maximum else min(low * self.factor, self.maximum)
        if low is None:  # nothing passed yet: step down
            lower = high / self.factor
            return None if lower < self.floor else lower
        if (high - low) / low <= self.precision:
            return None
        return (low + high) / 2

    @property
    def outcome(self) -> str:
        """``bracketed``, ``above-maximum`` (the maximum held) or ``below-floor``."""
        if self.failed is None and self.passed is not None:
            return "above-maximum"
        if self.passed is None:
            return "below-floor"
        return "bracketed"

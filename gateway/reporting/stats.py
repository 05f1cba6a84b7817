"""The statistics of an offer experiment, pure (no database): a proportion's Wilson score interval, the
difference of two proportions with Newcombe's hybrid score interval, and a two-sided two-proportion z
test; `compare` puts them together for a variant against the baseline.

References: E. B. Wilson (1927); R. G. Newcombe, "Two-sided confidence intervals for the single
proportion: comparison of seven methods" and "Interval estimation for the difference between
independent proportions: comparison of eleven methods", Statistics in Medicine 17 (1998), 857-872 and
873-890 (method 10). The tests check the worked examples of both papers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

DEFAULT_CONFIDENCE = 0.95

Counts = tuple[int, int]
"""(successes, trials): e.g. (offers accepted, offers played)."""


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def excludes(self, value: float) -> bool:
        return value < self.low or value > self.high


@dataclass(frozen=True)
class Comparison:
    """A variant (`other`) against the baseline. Rates are successes / trials; `difference` is
    other's rate minus baseline's. Without trials on either side there is nothing to compare: the
    rates, intervals and p value of that side are None and it is not significant."""

    baseline: Counts
    other: Counts
    confidence: float
    baseline_rate: float | None
    other_rate: float | None
    baseline_interval: Interval | None
    other_interval: Interval | None
    difference: float | None
    difference_interval: Interval | None
    p_value: float | None
    significant: bool  # the difference's interval excludes 0
    verdict: str  # "higher", "lower", "not yet significant" or "no data"


def z_for(confidence: float = DEFAULT_CONFIDENCE) -> float:
    """The two-sided normal quantile: 1.959964 for 95 %."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def _check(successes: int, trials: int) -> None:
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")


def rate(successes: int, trials: int) -> float | None:
    _check(successes, trials)
    return successes / trials if trials else None


def wilson(successes: int, trials: int, confidence: float = DEFAULT_CONFIDENCE) -> Interval | None:
    """Wilson's score interval for the proportion successes / trials (None without trials)."""
    _check(successes, trials)
    if trials == 0:
        return None
    z = z_for(confidence)
    p = successes / trials
    z2n = z * z / trials
    centre = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(p * (1 - p) / trials + z2n / (4 * trials))
    # The exact ends at 0 and n successes (rounding could leave them a hair off).
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return Interval(low, high)


def newcombe(first: Counts, second: Counts, confidence: float = DEFAULT_CONFIDENCE) -> Interval | None:
    """Newcombe's hybrid score interval (method 10) for rate(first) - rate(second); None when either
    has no trials."""
    w1, w2 = wilson(*first, confidence), wilson(*second, confidence)
    if w1 is None or w2 is None:
        return None
    p1, p2 = first[0] / first[1], second[0] / second[1]
    below = math.sqrt((p1 - w1.low) ** 2 + (w2.high - p2) ** 2)
    above = math.sqrt((w1.high - p1) ** 2 + (p2 - w2.low) ** 2)
    return Interval(p1 - p2 - below, p1 - p2 + above)


def two_proportion_p_value(first: Counts, second: Counts) -> float | None:
    """Two-sided p value of the pooled two-proportion z test of rate(first) == rate(second); None when
    either has no trials, 1.0 when the pooled rate is 0 or 1 (nothing varies)."""
    (s1, n1), (s2, n2) = first, second
    _check(s1, n1)
    _check(s2, n2)
    if n1 == 0 or n2 == 0:
        return None
    pooled = (s1 + s2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (s1 / n1 - s2 / n2) / se
    return min(1.0, 2 * (1 - NormalDist().cdf(abs(z))))


def compare(baseline: Counts, other: Counts, confidence: float = DEFAULT_CONFIDENCE) -> Comparison:
    """A variant against the baseline: each rate with its Wilson interval, other's rate minus
    baseline's with Newcombe's interval, the z test's p value, and a verdict ("higher" or "lower" when
    the difference's interval excludes 0, else "not yet significant"; "no data" without trials)."""
    z_for(confidence)  # a bad confidence fails here, whatever the counts
    difference_interval = newcombe(other, baseline, confidence)
    baseline_rate, other_rate = rate(*baseline), rate(*other)
    difference = None
    if baseline_rate is not None and other_rate is not None:
        difference = other_rate - baseline_rate
    significant = difference_interval is not None and difference_interval.excludes(0.0)
    if difference_interval is None:
        verdict = "no data"
    elif not significant:
        verdict = "not yet significant"
    else:
        verdict = "higher" if difference_interval.low > 0 else "lower"
    return Comparison(
        baseline=baseline,
        other=other,
        confidence=confidence,
        baseline_rate=baseline_rate,
        other_rate=other_rate,
        baseline_interval=wilson(*baseline, confidence),
        other_interval=wilson(*other, confidence),
        difference=difference,
        difference_interval=difference_interval,
        p_value=two_proportion_p_value(other, baseline),
        significant=significant,
        verdict=verdict,
    )

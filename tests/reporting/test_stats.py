"""The experiment statistics against published worked examples (Newcombe 1998, both papers) and
against an independent computation (the z test squared is Pearson's chi-square of the 2x2 table)."""

from __future__ import annotations

import pytest

from gateway.reporting.stats import (
    Interval,
    compare,
    newcombe,
    rate,
    two_proportion_p_value,
    wilson,
    z_for,
)


def rounded(interval: Interval | None, places: int = 4) -> tuple[float, float]:
    assert interval is not None
    return round(interval.low, places), round(interval.high, places)


def test_z_for_95_and_99_percent() -> None:
    assert round(z_for(0.95), 6) == 1.959964
    assert round(z_for(0.99), 6) == 2.575829
    with pytest.raises(ValueError):
        z_for(1.0)


@pytest.mark.parametrize(
    ("successes", "trials", "expected"),
    [
        # Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I,
        # method 3 (score, without continuity correction).
        (81, 263, (0.2553, 0.3662)),
        (15, 148, (0.0624, 0.1605)),
        (0, 20, (0.0, 0.1611)),
        (1, 29, (0.0061, 0.1718)),
    ],
)
def test_wilson_matches_newcombes_worked_examples(
    successes: int, trials: int, expected: tuple[float, float]
) -> None:
    assert rounded(wilson(successes, trials)) == expected


def test_wilson_ends_and_no_trials() -> None:
    assert wilson(0, 10) == Interval(0.0, pytest.approx(0.2775, abs=1e-4))
    assert wilson(10, 10) == Interval(pytest.approx(0.7225, abs=1e-4), 1.0)
    assert wilson(0, 0) is None and rate(0, 0) is None
    with pytest.raises(ValueError):
        wilson(5, 4)


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        # Newcombe (1998), "Interval estimation for the difference between independent proportions",
        # Table II, method 10 (hybrid score, without continuity correction).
        ((56, 70), (48, 80), (0.0524, 0.3339)),
        ((9, 10), (3, 10), (0.1705, 0.8090)),
        ((5, 56), (0, 29), (-0.0381, 0.1926)),
        ((0, 10), (0, 20), (-0.1611, 0.2775)),
        ((0, 10), (0, 10), (-0.2775, 0.2775)),
        ((10, 10), (0, 20), (0.6791, 1.0)),
        ((10, 10), (0, 10), (0.6075, 1.0)),
    ],
)
def test_newcombe_matches_the_papers_worked_examples(
    first: tuple[int, int], second: tuple[int, int], expected: tuple[float, float]
) -> None:
    assert rounded(newcombe(first, second)) == expected


def _pearson_chi_square(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Pearson's chi-square of the 2x2 table (successes, failures) x (a, b), without correction."""
    table = [[a[0], a[1] - a[0]], [b[0], b[1] - b[0]]]
    total = a[1] + b[1]
    cols = [table[0][j] + table[1][j] for j in range(2)]
    rows = [a[1], b[1]]
    return sum(
        (table[i][j] - rows[i] * cols[j] / total) ** 2 / (rows[i] * cols[j] / total)
        for i in range(2)
        for j in range(2)
    )


def test_the_z_test_agrees_with_pearsons_chi_square() -> None:
    from statistics import NormalDist

    for a, b in [((56, 70), (48, 80)), ((120, 1000), (150, 1000)), ((9, 10), (3, 10))]:
        chi2 = _pearson_chi_square(a, b)
        # chi-square with 1 df: P(X > c) = 2 (1 - Phi(sqrt c))
        expected = 2 * (1 - NormalDist().cdf(chi2**0.5))
        assert two_proportion_p_value(a, b) == pytest.approx(expected, rel=1e-9)
    assert two_proportion_p_value((56, 70), (48, 80)) == pytest.approx(0.00805, abs=1e-5)
    assert two_proportion_p_value((0, 10), (0, 20)) == 1.0
    assert two_proportion_p_value((0, 0), (3, 10)) is None


def test_compare_says_higher_with_its_numbers() -> None:
    result = compare(baseline=(48, 80), other=(56, 70))
    assert (result.baseline_rate, result.other_rate) == (0.6, 0.8)
    assert result.difference == pytest.approx(0.2)
    assert rounded(result.difference_interval) == (0.0524, 0.3339)
    assert result.baseline_interval == wilson(48, 80) and result.other_interval == wilson(56, 70)
    assert result.p_value == pytest.approx(0.00805, abs=1e-5)
    assert (result.significant, result.verdict) == (True, "higher")


def test_compare_says_lower_the_other_way_round() -> None:
    result = compare(baseline=(56, 70), other=(48, 80))
    assert rounded(result.difference_interval) == (-0.3339, -0.0524)
    assert (result.significant, result.verdict) == (True, "lower")


def test_a_small_difference_is_not_yet_significant() -> None:
    result = compare(baseline=(30, 100), other=(36, 100))
    assert result.difference_interval is not None and result.difference_interval.low < 0
    assert result.p_value is not None and result.p_value > 0.05
    assert (result.significant, result.verdict) == (False, "not yet significant")


def test_no_trials_no_interval_not_significant() -> None:
    result = compare(baseline=(0, 0), other=(5, 10))
    assert result.baseline_rate is None and result.baseline_interval is None
    assert result.other_rate == 0.5 and result.other_interval == wilson(5, 10)
    assert result.difference is None and result.difference_interval is None and result.p_value is None
    assert (result.significant, result.verdict) == (False, "no data")


def test_a_wider_confidence_can_take_significance_away() -> None:
    # p is about 0.03: significant at 95 %, not at 99 %.
    counts = ((100, 1000), (130, 1000))
    assert compare(*counts).significant is True
    at_99 = compare(*counts, confidence=0.99)
    assert (at_99.significant, at_99.verdict, at_99.confidence) == (False, "not yet significant", 0.99)

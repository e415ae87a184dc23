"""The experiment statistics against published values and scipy's own implementations."""

import math
from statistics import NormalDist

import numpy as np
import pytest
from scipy import stats as scipy_stats

from engine.measure.stats import (
    Lift,
    mean_lift,
    newcombe_difference,
    rate_lift,
    welch_difference,
    wilson_interval,
)

# Published tables print four decimals.
FOUR_PLACES = 5e-5


def scipy_wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """scipy's Wilson interval, an implementation independent of ours."""
    ci = scipy_stats.binomtest(successes, n).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return float(ci.low), float(ci.high)


# Newcombe RG (1998), "Two-sided confidence intervals for the single proportion: comparison of
# seven methods", Statistics in Medicine 17:857-872, Table I, method 3 (score, no continuity
# correction).
@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe_single_proportion_table(
    successes: int, n: int, low: float, high: float
) -> None:
    assert wilson_interval(successes, n) == pytest.approx((low, high), abs=FOUR_PLACES)


@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
@pytest.mark.parametrize(
    ("successes", "n"), [(0, 1), (1, 1), (0, 7), (3, 7), (7, 7), (81, 263), (5, 10_000)]
)
def test_wilson_matches_scipy(successes: int, n: int, confidence: float) -> None:
    expected = scipy_wilson(successes, n, confidence)
    assert wilson_interval(successes, n, confidence=confidence) == pytest.approx(
        expected, abs=1e-12
    )


@pytest.mark.parametrize(("successes", "n"), [(1, 3), (81, 263), (40, 41)])
def test_wilson_bounds_solve_the_score_equation(successes: int, n: int) -> None:
    # Wilson's bounds are the two proportions pi at which (p - pi)^2 = z^2 pi (1 - pi) / n.
    z = NormalDist().inv_cdf(0.975)
    p = successes / n
    for bound in wilson_interval(successes, n):
        assert (p - bound) ** 2 == pytest.approx(z * z * bound * (1 - bound) / n, rel=1e-9)


def test_wilson_edges() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    none_low, none_high = wilson_interval(0, 50)
    all_low, all_high = wilson_interval(50, 50)
    assert none_low == 0.0 and 0.0 < none_high < 1.0
    assert all_high == 1.0 and 0.0 < all_low < 1.0
    assert all_low == pytest.approx(1.0 - none_high, abs=1e-12)  # the two mirror each other


@pytest.mark.parametrize(("successes", "n"), [(-1, 5), (6, 5), (0, -1)])
def test_wilson_refuses_impossible_counts(successes: int, n: int) -> None:
    with pytest.raises(ValueError):
        wilson_interval(successes, n)


@pytest.mark.parametrize("confidence", [0.0, 1.0, -0.5, 95.0])
def test_confidence_must_lie_between_zero_and_one(confidence: float) -> None:
    with pytest.raises(ValueError):
        wilson_interval(1, 2, confidence=confidence)
    with pytest.raises(ValueError):
        newcombe_difference(1, 2, 1, 2, confidence=confidence)
    with pytest.raises(ValueError):
        welch_difference([1.0, 2.0], [1.0, 3.0], confidence=confidence)


# Newcombe RG (1998), "Interval estimation for the difference between independent proportions:
# comparison of eleven methods", Statistics in Medicine 17:873-890, Table II, examples (a)-(h),
# method 10 (hybrid score, no continuity correction).
@pytest.mark.parametrize(
    ("s1", "n1", "s2", "n2", "low", "high"),
    [
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926),
        (0, 10, 0, 20, -0.1611, 0.2775),
        (0, 10, 0, 10, -0.2775, 0.2775),
        (10, 10, 0, 20, 0.6791, 1.0000),
        (10, 10, 0, 10, 0.6075, 1.0000),
    ],
)
def test_newcombe_matches_eleven_methods_table(
    s1: int, n1: int, s2: int, n2: int, low: float, high: float
) -> None:
    difference, got_low, got_high = newcombe_difference(s1, n1, s2, n2)
    assert difference == pytest.approx(s1 / n1 - s2 / n2, abs=1e-12)
    assert (got_low, got_high) == pytest.approx((low, high), abs=FOUR_PLACES)


def test_newcombe_matches_its_definition_over_scipy_wilson() -> None:
    # Newcombe's method 10 spelt out directly, over scipy's Wilson bounds instead of ours.
    rng = np.random.default_rng(20240601)
    for _ in range(200):
        n1, n2 = (int(x) for x in rng.integers(1, 400, size=2))
        s1, s2 = int(rng.integers(0, n1 + 1)), int(rng.integers(0, n2 + 1))
        confidence = float(rng.choice([0.9, 0.95, 0.99]))
        p1, p2 = s1 / n1, s2 / n2
        l1, u1 = scipy_wilson(s1, n1, confidence)
        l2, u2 = scipy_wilson(s2, n2, confidence)
        expected = (
            p1 - p2,
            p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
        )
        got = newcombe_difference(s1, n1, s2, n2, confidence=confidence)
        assert got == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize(("n1", "n2"), [(0, 10), (10, 0), (0, 0)])
def test_newcombe_with_an_empty_arm_is_the_widest_interval(n1: int, n2: int) -> None:
    assert newcombe_difference(0, n1, 0, n2) == (0.0, -1.0, 1.0)


def test_newcombe_all_successes_or_all_failures_in_both_arms() -> None:
    for successes in (0, 40):
        difference, low, high = newcombe_difference(successes, 40, successes, 40)
        assert difference == 0.0
        assert -1.0 < low < 0.0 < high < 1.0
        assert low == pytest.approx(-high, abs=1e-12)


def test_newcombe_stays_within_minus_one_and_one() -> None:
    for n in (1, 2, 5, 1000):
        assert newcombe_difference(n, n, 0, n)[2] <= 1.0
        assert newcombe_difference(0, n, n, n)[1] >= -1.0


def test_newcombe_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError):
        newcombe_difference(11, 10, 1, 10)
    with pytest.raises(ValueError):
        newcombe_difference(1, 10, -1, 10)


def test_welch_matches_r_on_the_sleep_data() -> None:
    # R: t.test(extra ~ group, data = sleep) prints "95 percent confidence interval:
    # -3.3654832  0.2054832" (Welch, df = 17.776); the data are Cushny and Peebles' (1905).
    group1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    group2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
    difference, low, high = welch_difference(group1, group2)
    assert difference == pytest.approx(0.75 - 2.33, abs=1e-12)
    assert (low, high) == pytest.approx((-3.3654832, 0.2054832), abs=5e-8)


def zero_inflated_revenue(rng: np.random.Generator, n: int, buy_rate: float) -> list[float]:
    """Revenue per recipient: most spend nothing, a few spend a log-normal amount."""
    buys = rng.random(n) < buy_rate
    amounts = rng.lognormal(mean=3.5, sigma=0.8, size=n)
    return [float(x) for x in np.where(buys, amounts, 0.0)]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_welch_matches_scipy_ttest_ind(seed: int, confidence: float) -> None:
    rng = np.random.default_rng(seed)
    samples = [
        (rng.normal(10, 2, size=12), rng.normal(9, 5, size=30)),
        (rng.exponential(3, size=5), rng.exponential(1, size=200)),
        (
            np.asarray(zero_inflated_revenue(rng, 800, 0.06)),
            np.asarray(zero_inflated_revenue(rng, 650, 0.04)),
        ),
    ]
    for a, b in samples:
        result = scipy_stats.ttest_ind(a, b, equal_var=False)
        ci = result.confidence_interval(confidence_level=confidence)
        expected = (float(np.mean(a) - np.mean(b)), float(ci.low), float(ci.high))
        got = welch_difference(list(a), list(b), confidence=confidence)
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_welch_with_one_constant_sample_matches_scipy() -> None:
    # All of one arm spent nothing: the interval rests on the other arm's spread alone.
    a = [0.0, 12.5, 0.0, 40.0, 0.0, 3.0]
    b = [0.0] * 9
    ci = scipy_stats.ttest_ind(a, b, equal_var=False).confidence_interval()
    assert welch_difference(a, b) == pytest.approx(
        (float(np.mean(a)), float(ci.low), float(ci.high)), rel=1e-9
    )


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([], [], (0.0, None, None)),
        ([], [1.0, 2.0], (0.0, None, None)),
        ([1.0, 2.0], [], (0.0, None, None)),
        ([5.0], [1.0, 2.0, 3.0], (3.0, None, None)),
        ([1.0, 2.0, 3.0], [4.0], (-2.0, None, None)),
        ([7.0], [2.0], (5.0, None, None)),
        ([0.0] * 50, [0.0] * 80, (0.0, None, None)),
        ([0.1] * 3, [0.1] * 7, (0.0, None, None)),
        ([5.0, 5.0], [3.0, 3.0, 3.0], (2.0, None, None)),
    ],
)
def test_welch_degenerate_samples_give_no_bounds(
    a: list[float], b: list[float], expected: tuple[float, None, None]
) -> None:
    difference, low, high = welch_difference(a, b)
    assert (low, high) == (None, None)
    assert difference == pytest.approx(expected[0], abs=1e-12)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_welch_refuses_non_finite_values(bad: float) -> None:
    with pytest.raises(ValueError):
        welch_difference([1.0, bad], [1.0, 2.0])
    with pytest.raises(ValueError):
        welch_difference([1.0, 2.0], [bad])


@pytest.mark.parametrize(
    ("low", "high", "verdict"),
    [
        (0.01, 0.2, "better"),
        (-0.2, -0.01, "worse"),
        (-0.1, 0.1, "need more data"),
        (0.0, 0.1, "need more data"),
        (-0.1, 0.0, "need more data"),
        (0.0, 0.0, "need more data"),
        (None, 0.1, "need more data"),
        (0.1, None, "need more data"),
        (None, None, "need more data"),
    ],
)
def test_lift_verdict(low: float | None, high: float | None, verdict: str) -> None:
    assert Lift(difference=0.05, low=low, high=high).verdict == verdict


def test_rate_lift_uses_newcombe() -> None:
    lift = rate_lift(56, 70, 48, 80)
    assert (lift.difference, lift.low, lift.high) == newcombe_difference(56, 70, 48, 80)
    assert lift.verdict == "better"
    assert rate_lift(48, 80, 56, 70).verdict == "worse"
    assert rate_lift(5, 56, 0, 29).verdict == "need more data"  # Newcombe's example (d)
    assert rate_lift(0, 0, 0, 10).verdict == "need more data"


def test_mean_lift_uses_welch() -> None:
    rng = np.random.default_rng(7)
    personal = zero_inflated_revenue(rng, 5000, 0.12)
    holdout = zero_inflated_revenue(rng, 5000, 0.03)
    lift = mean_lift(personal, holdout)
    assert (lift.difference, lift.low, lift.high) == welch_difference(personal, holdout)
    assert lift.verdict == "better"
    assert mean_lift(holdout, personal).verdict == "worse"
    assert mean_lift([0.0] * 100, [0.0] * 100).verdict == "need more data"
    assert mean_lift([25.0], [0.0, 0.0]).verdict == "need more data"

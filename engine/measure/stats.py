"""The statistics for experiments: rates and means per arm, and the lift of one arm over another
with a confidence interval, so the report says "need more data" until the data say more."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import stats as scipy_stats

Verdict = Literal["better", "worse", "need more data"]


def _check_confidence(confidence: float) -> None:
    """Refuse a confidence level outside (0, 1)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, not {confidence}")


def _check_counts(successes: int, n: int) -> None:
    """Refuse counts that cannot come from recipients and conversions."""
    if not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")


def _z(confidence: float) -> float:
    """The two-sided standard normal quantile for a confidence level (1.959964 for 95%)."""
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for the proportion successes / n; (0.0, 1.0) when n is 0."""
    _check_confidence(confidence)
    _check_counts(successes, n)
    if n == 0:
        # No recipients: every rate is as plausible as any other.
        return 0.0, 1.0
    z = _z(confidence)
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    # At 0 or n successes the exact bound is 0 or 1; rounding may land a hair outside.
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_difference(
    s1: int, n1: int, s2: int, n2: int, *, confidence: float = 0.95
) -> tuple[float, float, float]:
    """p1 - p2 with Newcombe's hybrid score interval; (0.0, -1.0, 1.0) when an arm is empty."""
    # Method 10 of Newcombe (1998), "Interval estimation for the difference between independent
    # proportions: comparison of eleven methods", Statistics in Medicine 17:873-890.
    _check_confidence(confidence)
    _check_counts(s1, n1)
    _check_counts(s2, n2)
    if n1 == 0 or n2 == 0:
        # An empty arm leaves no difference to estimate: the widest interval a difference of
        # proportions can have, which reads as "need more data".
        return 0.0, -1.0, 1.0
    p1, p2 = s1 / n1, s2 / n2
    low1, high1 = wilson_interval(s1, n1, confidence=confidence)
    low2, high2 = wilson_interval(s2, n2, confidence=confidence)
    difference = p1 - p2
    # Each bound takes the distance to the matching Wilson bound of each arm: the difference is
    # smallest when p1 is at its low and p2 at its high, and the two errors add in quadrature.
    low = difference - math.sqrt((p1 - low1) ** 2 + (high2 - p2) ** 2)
    high = difference + math.sqrt((high1 - p1) ** 2 + (p2 - low2) ** 2)
    return difference, max(-1.0, low), min(1.0, high)


def _finite(values: Sequence[float]) -> NDArray[np.float64]:
    """The values as a float array; refuses NaN and infinities, which would poison every mean."""
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(array)):
        raise ValueError("values must be finite numbers")
    return array


def _variance(array: NDArray[np.float64]) -> float:
    """The sample variance (n - 1) of at least two values; exactly 0 for a constant sample."""
    # The computed variance of a constant sample may be a rounding speck above 0, which would
    # turn "no spread at all" into a spuriously narrow interval.
    if float(np.min(array)) == float(np.max(array)):
        return 0.0
    return float(np.var(array, ddof=1))


def welch_difference(
    a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95
) -> tuple[float, float | None, float | None]:
    """mean(a) - mean(b) with Welch's t interval; bounds None when the data give no interval."""
    # None bounds, not infinities, keep the result JSON-friendly. They come when a sample has
    # fewer than two values (no variance to estimate) or both samples are constant (no standard
    # error); the difference is then the plain difference of means, or 0.0 if a sample is empty.
    _check_confidence(confidence)
    first, second = _finite(a), _finite(b)
    if first.size == 0 or second.size == 0:
        return 0.0, None, None
    difference = float(np.mean(first)) - float(np.mean(second))
    if first.size < 2 or second.size < 2:
        return difference, None, None
    # Revenue per recipient is zero-inflated (most recipients spend 0) and skewed, so the two
    # arms rarely share a variance: Welch's interval does not assume they do. The t interval
    # leans on the mean being near normal, which holds once an arm has hundreds of recipients.
    share_a = _variance(first) / first.size
    share_b = _variance(second) / second.size
    standard_error = math.sqrt(share_a + share_b)
    if standard_error == 0.0:
        return difference, None, None
    # Welch-Satterthwaite degrees of freedom; a constant sample's term adds nothing.
    df = (share_a + share_b) ** 2 / (share_a**2 / (first.size - 1) + share_b**2 / (second.size - 1))
    margin = float(scipy_stats.t.ppf(0.5 + confidence / 2.0, df)) * standard_error
    return difference, difference - margin, difference + margin


@dataclass(frozen=True)
class Lift:
    """How much one arm beats another (first minus second), with its confidence interval."""

    difference: float
    low: float | None
    high: float | None

    @property
    def verdict(self) -> Verdict:
        """Better or worse once the interval clears zero; "need more data" until then."""
        if self.low is None or self.high is None or self.low <= 0.0 <= self.high:
            return "need more data"
        return "better" if self.low > 0.0 else "worse"


def rate_lift(s1: int, n1: int, s2: int, n2: int, *, confidence: float = 0.95) -> Lift:
    """The lift of rate s1/n1 over s2/n2, by Newcombe's hybrid score interval."""
    difference, low, high = newcombe_difference(s1, n1, s2, n2, confidence=confidence)
    return Lift(difference=difference, low=low, high=high)


def mean_lift(a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95) -> Lift:
    """The lift of mean(a) over mean(b), by Welch's t interval."""
    difference, low, high = welch_difference(a, b, confidence=confidence)
    return Lift(difference=difference, low=low, high=high)

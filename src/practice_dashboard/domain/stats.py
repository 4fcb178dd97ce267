"""Robust statistics for short, noisy series (DOMAIN.md §5).

* Theil-Sen slope: Theil (1950), Sen (1968), with Sen's distribution-free confidence
  interval (Sen 1968, eq. 2.6); the same results as ``scipy.stats.theilslopes``, without
  loading scipy (0.5-1 s of CPU at every start of the CLI and of a worker).
* Mann-Kendall trend test: Mann (1945), Kendall (1975), with the tie correction of the
  variance of S as given by Gilbert (1987) and Hamed & Rao (1998).
* Normal quantiles: the inverse of the normal CDF (exact through ``math.erfc``) by
  bisection, so no approximation constants are involved.
* Percentiles: linear interpolation between order statistics (numpy's default, Hyndman &
  Fan 1996 definition 7).

Every function returns None (never 0) when the data cannot support an answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

TrendDirection = Literal["improving", "worsening", "no_clear_trend", "insufficient_data"]

#: Never claim a trend from fewer points than this (DESIGN.md "Metrics").
MIN_TREND_POINTS: Final = 6
SECONDS_PER_DAY: Final = 86_400.0
DAYS_PER_WEEK: Final = 7.0

FloatArray = npt.NDArray[np.float64]


def _array(values: Sequence[float] | FloatArray) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


#: Up to this many values, medians and percentiles are taken in plain Python: numpy's fixed
#: cost per call (about 20-30 us) is more than sorting a few hundred floats.
_PLAIN_UP_TO: Final = 512


def _plain_sorted(values: Sequence[float] | FloatArray) -> list[float] | None:
    """The values sorted as Python floats when the plain path gives numpy's result exactly:
    few enough, all finite (numpy's NaN and infinity arithmetic is left to numpy), and no
    negative zero (numpy partitions where this sorts, so which of -0.0 and 0.0 comes first
    could differ)."""
    if len(values) > _PLAIN_UP_TO:
        return None
    plain = sorted(values.tolist() if isinstance(values, np.ndarray) else map(float, values))
    for v in plain:
        if not math.isfinite(v) or (v == 0.0 and math.copysign(1.0, v) < 0.0):
            return None
    return plain


def median(values: Sequence[float] | FloatArray) -> float | None:
    """The median, or None for no data: ``numpy.median``, to the last bit."""
    plain = _plain_sorted(values)
    if plain is not None:
        n = len(plain)
        if n == 0:
            return None
        half = n // 2
        # numpy takes the mean of the two middle values: their sum, divided by 2.
        return plain[half] if n % 2 else (plain[half - 1] + plain[half]) / 2.0
    arr = _array(values)
    if arr.size == 0:
        return None
    return float(np.median(arr))


def mean(values: Sequence[float] | FloatArray) -> float | None:
    """The arithmetic mean, or None for no data."""
    arr = _array(values)
    if arr.size == 0:
        return None
    return float(arr.mean())


def sample_sd(values: Sequence[float] | FloatArray) -> float | None:
    """Sample standard deviation (n - 1 denominator), or None for fewer than 2 values."""
    arr = _array(values)
    if arr.size < 2:
        return None
    return float(arr.std(ddof=1))


def percentile(values: Sequence[float] | FloatArray, q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between order statistics.

    This is numpy's default ``method="linear"`` (Hyndman & Fan 1996, definition 7): for
    sorted x of length n the position is h = (n - 1) * q / 100 and the result is
    x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)]).
    """
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile q must be within 0..100, got {q!r}")
    plain = _plain_sorted(values)
    if plain is not None:
        n = len(plain)
        if n == 0:
            return None
        # numpy's own steps (numpy/lib/_function_base_impl.py: method "linear", `_lerp`):
        # the index (n - 1) * (q / 100), and from the nearer end when the weight is >= 0.5.
        h = (n - 1) * (q / 100.0)
        low = math.floor(h)
        if low >= n - 1:
            return plain[-1]
        a, b = plain[low], plain[low + 1]
        t = h - low
        return b - (b - a) * (1.0 - t) if t >= 0.5 else a + (b - a) * t
    arr = _array(values)
    if arr.size == 0:
        return None
    return float(np.percentile(arr, q))


# --------------------------------------------------------------------------------------------
# Theil-Sen slope (Theil 1950; Sen 1968)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TheilSen:
    """Theil-Sen fit of y against time in days; slopes are also given per week.

    Intercept convention (scipy's default, "separate"): intercept = median(y) - slope *
    median(t), with t in days since the first point, so it is the fitted value at the first
    point's time.
    """

    slope_per_day: float
    intercept: float
    ci_low_per_day: float
    ci_high_per_day: float
    confidence: float

    @property
    def slope_per_week(self) -> float:
        return self.slope_per_day * DAYS_PER_WEEK

    @property
    def ci_low_per_week(self) -> float:
        return self.ci_low_per_day * DAYS_PER_WEEK

    @property
    def ci_high_per_week(self) -> float:
        return self.ci_high_per_day * DAYS_PER_WEEK


def theil_sen(
    t_days: Sequence[float] | FloatArray,
    y: Sequence[float] | FloatArray,
    *,
    confidence: float = 0.95,
) -> TheilSen | None:
    """Median of pairwise slopes (y_j - y_i) / (t_j - t_i) over pairs with t_j != t_i.

    Returns None when fewer than two distinct times exist. The confidence interval is Sen's
    (1968) distribution-free interval: with N slopes, C = z_{(1+confidence)/2} * sqrt(Var S)
    (Var S tie-corrected in both t and y, Sen's eq. 2.6), it runs from the slope of rank
    round((N - C) / 2) to that of rank round((N + C) / 2) (1-based), as in
    ``scipy.stats.theilslopes``.
    """
    t = _array(t_days)
    v = _array(y)
    if t.shape != v.shape:
        raise ValueError("t_days and y must have the same length")
    if t.size < 2 or np.unique(t).size < 2:
        return None
    dt = t[:, np.newaxis] - t
    dy = v[:, np.newaxis] - v
    later = dt > 0  # each pair once, pairs at one instant left out
    slopes = np.sort(dy[later] / dt[later])
    slope = float(np.median(slopes))
    n_slopes = slopes.size
    variance = _kendall_variance(v, extra_ties=t)
    ci_low = ci_high = math.nan  # ties in both t and y can leave no variance to speak of
    if variance >= 0.0:
        half_width = -normal_quantile((1.0 - confidence) / 2.0) * math.sqrt(variance)
        # Python's round() halves to even, like numpy's: the ranks match scipy's exactly.
        ci_low = float(slopes[max(round((n_slopes - half_width) / 2.0) - 1, 0)])
        ci_high = float(slopes[min(round((n_slopes + half_width) / 2.0), n_slopes - 1)])
    return TheilSen(
        slope_per_day=slope,
        intercept=float(np.median(v)) - slope * float(np.median(t)),
        ci_low_per_day=ci_low,
        ci_high_per_day=ci_high,
        confidence=confidence,
    )


def _tie_term(values: FloatArray) -> float:
    """sum over groups of tied values of t(t-1)(2t+5), the tie correction of Var(S)."""
    _, counts = np.unique(values, return_counts=True)
    ties = counts[counts > 1].astype(np.float64)
    return float((ties * (ties - 1) * (2 * ties + 5)).sum())


def _kendall_variance(values: FloatArray, *, extra_ties: FloatArray | None = None) -> float:
    """Var(S) of Kendall's S under no trend, corrected for ties (in a second series too)."""
    n = int(values.size)
    tied = _tie_term(values) + (0.0 if extra_ties is None else _tie_term(extra_ties))
    return (n * (n - 1) * (2 * n + 5) - tied) / 18.0


def normal_cdf(x: float) -> float:
    """Phi(x), the standard normal CDF: erfc(-x / sqrt 2) / 2, accurate in both tails."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def normal_quantile(p: float) -> float:
    """Phi^-1(p) for 0 < p < 1, to the precision of a double.

    Bisection on ``normal_cdf``: slower than a rational approximation (about 100 steps,
    microseconds), but exact to the last bit the CDF can resolve and free of constants.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"a normal quantile needs 0 < p < 1, got {p!r}")
    if p > 0.5:  # by symmetry: 1 - p is exact here, and the lower tail has more precision
        return -normal_quantile(1.0 - p)
    low, high = -40.0, 0.0  # Phi(-40) underflows to 0: every double p <= 0.5 lies between
    while True:
        middle = (low + high) / 2.0
        if middle in (low, high):  # adjacent doubles: nothing left to halve
            return middle
        if normal_cdf(middle) < p:
            low = middle
        else:
            high = middle


# --------------------------------------------------------------------------------------------
# Mann-Kendall test (Mann 1945; Kendall 1975; ties: Gilbert 1987, Hamed & Rao 1998)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MannKendall:
    """Mann-Kendall statistic S, its tie-corrected variance, Z, two-sided p and tau."""

    s: int
    var_s: float
    z: float
    p_value: float
    tau: float
    n: int


def mann_kendall(y: Sequence[float] | FloatArray) -> MannKendall | None:
    """Mann-Kendall test on a series already in time order (DOMAIN.md §5.2).

    S = sum_{i<j} sign(x_j - x_i)
    Var(S) = [n(n-1)(2n+5) - sum_g t_g(t_g-1)(2t_g+5)] / 18  over groups g of tied values
    Z = (S-1)/sqrt(Var) if S > 0; 0 if S = 0; (S+1)/sqrt(Var) if S < 0  (continuity corr.)
    p = 2 (1 - Phi(|Z|)) (normal approximation; approximate for n < 10 and for
    serially dependent session data); tau = S / (n(n-1)/2).

    Returns None for fewer than 2 values. When Var(S) = 0 (all values tied) Z = 0, p = 1.
    O(n^2) memory and time in n, which is fine for a 12-week window.
    """
    x = _array(y)
    n = int(x.size)
    if n < 2:
        return None
    i, j = np.triu_indices(n, k=1)
    s = int(np.sign(x[j] - x[i]).sum())
    var_s = _kendall_variance(x)
    if var_s <= 0.0:
        z = 0.0
    elif s > 0:
        z = (s - 1) / math.sqrt(var_s)
    elif s < 0:
        z = (s + 1) / math.sqrt(var_s)
    else:
        z = 0.0
    # 2 * (1 - Phi(|z|)) == erfc(|z| / sqrt(2)), computed without cancellation.
    p = math.erfc(abs(z) / math.sqrt(2.0))
    tau = s / (n * (n - 1) / 2.0)
    return MannKendall(s=s, var_s=var_s, z=z, p_value=min(1.0, p), tau=tau, n=n)


# --------------------------------------------------------------------------------------------
# Trend verdict
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trend:
    """A trend verdict: Theil-Sen slope (per week) and Mann-Kendall p-value.

    ``slope_per_week`` and ``p_value`` are None for ``insufficient_data``.
    """

    slope_per_week: float | None
    p_value: float | None
    n: int
    direction: TrendDirection
    slope_ci_low_per_week: float | None = None
    slope_ci_high_per_week: float | None = None


def insufficient_trend(n: int) -> Trend:
    return Trend(slope_per_week=None, p_value=None, n=n, direction="insufficient_data")


def trend_from_arrays(
    t_seconds: FloatArray,
    y: FloatArray,
    *,
    min_points: int = MIN_TREND_POINTS,
    alpha: float = 0.05,
    lower_is_better: bool,
) -> Trend:
    """``trend`` over parallel arrays of epoch seconds and values (any order)."""
    if min_points < MIN_TREND_POINTS:
        raise ValueError(f"min_points must be at least {MIN_TREND_POINTS}, got {min_points}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be within (0, 1), got {alpha!r}")
    n = int(y.size)
    if n < min_points:
        return insufficient_trend(n)
    order = np.lexsort((y, t_seconds))  # time order; equal times ordered by value
    t_days = (t_seconds[order] - t_seconds[order[0]]) / SECONDS_PER_DAY
    v = y[order]
    if np.unique(t_days).size < 2:
        return insufficient_trend(n)
    if np.all(v == v[0]):
        # A flat series: the slope is exactly 0 and nothing changes.
        return Trend(0.0, 1.0, n, "no_clear_trend", 0.0, 0.0)
    fit = theil_sen(t_days, v, confidence=1.0 - alpha)
    mk = mann_kendall(v)
    # n >= 6 with two distinct times, so both are defined
    assert fit is not None
    assert mk is not None
    slope = fit.slope_per_week
    direction: TrendDirection = "no_clear_trend"
    if mk.p_value < alpha and slope != 0.0:
        rising = slope > 0.0
        direction = "worsening" if rising == lower_is_better else "improving"
    return Trend(
        slope_per_week=slope,
        p_value=mk.p_value,
        n=n,
        direction=direction,
        slope_ci_low_per_week=fit.ci_low_per_week,
        slope_ci_high_per_week=fit.ci_high_per_week,
    )


def trend(
    points: Sequence[tuple[datetime, float]],
    *,
    min_points: int = MIN_TREND_POINTS,
    alpha: float = 0.05,
    lower_is_better: bool,
) -> Trend:
    """Trend of values over real time (DESIGN.md "Metrics", DOMAIN.md §5).

    Theil-Sen slope against time in days, reported per week; Mann-Kendall two-sided p.
    "improving" only when the slope points the better way and p < alpha, "worsening" only
    when it points the worse way and p < alpha, else "no_clear_trend"; fewer than
    ``min_points`` (at least 6) points, or all at one instant, gives "insufficient_data".
    A series of equal values is "no_clear_trend" with slope 0. Datetimes must be
    timezone-aware so that durations across daylight-saving changes stay right.
    """
    for when, _ in points:
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("trend needs timezone-aware datetimes")
    t = np.fromiter((when.timestamp() for when, _ in points), dtype=np.float64, count=len(points))
    y = np.fromiter((value for _, value in points), dtype=np.float64, count=len(points))
    return trend_from_arrays(
        t, y, min_points=min_points, alpha=alpha, lower_is_better=lower_is_better
    )


# --------------------------------------------------------------------------------------------
# Rolling median (DOMAIN.md §5.3)
# --------------------------------------------------------------------------------------------


def rolling_median(
    values: Sequence[float | None], k: int, *, centered: bool = False
) -> list[float | None]:
    """Rolling median with an odd window k; positions without a full window are None.

    Trailing (default, for live display: uses no future values): position i covers
    i-k+1..i. Centered (for retrospective charts): i-(k-1)/2..i+(k-1)/2. A window that
    contains a missing value (None) is also None: never computed from a shrunken window.
    """
    if k < 1 or k % 2 == 0:
        raise ValueError(f"rolling window k must be a positive odd number, got {k}")
    n = len(values)
    out: list[float | None] = [None] * n
    if n < k:
        return out
    arr = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(arr, k)
    has_gap: npt.NDArray[np.bool_] = np.asarray(np.isnan(windows).any(axis=1))
    meds = np.median(np.where(has_gap[:, None], 0.0, windows), axis=1)
    offset = (k - 1) // 2 if centered else k - 1
    for w, (gap, med) in enumerate(zip(has_gap.tolist(), meds.tolist(), strict=True)):
        if not gap:
            out[w + offset] = float(med)
    return out

"""Statistics: expected values are worked by hand from the formulas in DOMAIN.md §5."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from practice_dashboard.domain.stats import (
    mann_kendall,
    median,
    normal_cdf,
    normal_quantile,
    percentile,
    rolling_median,
    sample_sd,
    theil_sen,
    trend,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def weekly(values: list[float]) -> list[tuple[datetime, float]]:
    return [(T0 + timedelta(weeks=i), v) for i, v in enumerate(values)]


class TestDescriptive:
    def test_empty_is_none_not_zero(self) -> None:
        assert median([]) is None
        assert percentile([], 90) is None
        assert sample_sd([5.0]) is None

    def test_median(self) -> None:
        assert median([3.0, 1.0, 2.0]) == 2.0
        assert median([1.0, 2.0, 3.0, 10.0]) == 2.5

    def test_percentile_linear_interpolation(self) -> None:
        # sorted [1,2,3,4]; h = (4-1) * 0.90 = 2.7 -> x[2] + 0.7 * (x[3] - x[2]) = 3 + 0.7 = 3.7
        assert percentile([4.0, 1.0, 3.0, 2.0], 90) == pytest.approx(3.7)
        assert percentile([7.0], 90) == 7.0
        with pytest.raises(ValueError, match=r"0\.\.100"):
            percentile([1.0], 101)

    @settings(max_examples=600, deadline=None)
    @given(
        values=st.lists(
            st.one_of(
                st.integers(-20, 20).map(float),  # ratings and ties, as the charts have
                st.floats(-1e12, 1e12, allow_nan=False),
                st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324]),
            ),
            max_size=40,
        ),
        q=st.one_of(st.floats(0, 100), st.sampled_from([0.0, 10.0, 50.0, 90.0, 100.0])),
        as_array=st.booleans(),
    )
    def test_median_and_percentile_are_numpys_to_the_last_bit(
        self, values: list[float], q: float, as_array: bool
    ) -> None:
        """The plain-Python path for short series gives exactly what numpy.median and
        numpy.percentile (method "linear", the reference) give, signed zeros, ties and the
        values numpy is left to (NaN, infinities) included."""
        given_values = np.array(values, dtype=np.float64) if as_array else values
        if not values:
            assert median(given_values) is None
            assert percentile(given_values, q) is None
            return
        with np.errstate(all="ignore"):  # inf - inf in numpy's interpolation: NaN, quietly
            expected = (float(np.median(values)), float(np.percentile(values, q)))
            got = (median(given_values), percentile(given_values, q))
        assert [repr(v) for v in got] == [repr(v) for v in expected]

    def test_long_series_stay_with_numpy(self) -> None:
        values = [float(v % 97) for v in range(2000)]
        assert median(values) == float(np.median(values))
        assert percentile(values, 90) == float(np.percentile(values, 90))

    def test_sample_sd(self) -> None:
        # 30..70 step 10: squared deviations 400+100+0+100+400 = 1000; 1000 / 4 = 250
        assert sample_sd([30.0, 40.0, 50.0, 60.0, 70.0]) == pytest.approx(math.sqrt(250))


class TestTheilSen:
    def test_hand_worked(self) -> None:
        # t = 0,1,2,3 days; y = 0,2,4,7. Pairwise slopes: (0,1) 2, (0,2) 2, (0,3) 7/3,
        # (1,2) 2, (1,3) 5/2, (2,3) 3 -> sorted 2,2,2,2.333,2.5,3 -> median (2+2.333)/2
        fit = theil_sen([0.0, 1.0, 2.0, 3.0], [0.0, 2.0, 4.0, 7.0])
        assert fit is not None
        assert fit.slope_per_day == pytest.approx(13 / 6)
        assert fit.slope_per_week == pytest.approx(7 * 13 / 6)
        # intercept = median(y) - slope * median(t) = 3 - (13/6) * 1.5 = -0.25
        assert fit.intercept == pytest.approx(-0.25)
        assert fit.ci_low_per_day <= fit.slope_per_day <= fit.ci_high_per_day

    def test_needs_two_distinct_times(self) -> None:
        assert theil_sen([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None
        assert theil_sen([1.0], [1.0]) is None


class TestNormalDistribution:
    # Abramowitz & Stegun (1964), Handbook of Mathematical Functions: Table 26.1 (Phi(x)) and
    # Table 26.5 (percentage points: the x with upper tail Q(x) = 1 - Phi(x)), to 9-10 places.
    @pytest.mark.parametrize(
        ("x", "phi"), [(0.0, 0.5), (1.0, 0.8413447461), (1.96, 0.9750021049), (2.0, 0.9772498681)]
    )
    def test_cdf_matches_published_table(self, x: float, phi: float) -> None:
        assert normal_cdf(x) == pytest.approx(phi, abs=1e-10)
        assert normal_cdf(-x) == pytest.approx(1.0 - phi, abs=1e-10)

    @pytest.mark.parametrize(
        ("upper_tail", "x"),
        [
            (0.1, 1.281551566),
            (0.05, 1.644853627),
            (0.025, 1.959963985),
            (0.01, 2.326347874),
            (0.005, 2.575829304),
            (0.0005, 3.290526731),
        ],
    )
    def test_quantile_matches_published_percentage_points(
        self, upper_tail: float, x: float
    ) -> None:
        assert normal_quantile(1.0 - upper_tail) == pytest.approx(x, abs=1e-9)
        assert normal_quantile(upper_tail) == pytest.approx(-x, abs=1e-9)

    def test_quantile_inverts_the_cdf_in_the_far_tail(self) -> None:
        assert normal_cdf(normal_quantile(1e-12)) == pytest.approx(1e-12, rel=1e-12)
        assert normal_quantile(0.5) == pytest.approx(0.0, abs=1e-15)
        for p in (0.0, 1.0, -0.1):
            with pytest.raises(ValueError, match="0 < p < 1"):
                normal_quantile(p)


class TestSenInterval:
    def test_hand_worked_ranks(self) -> None:
        # n = 4, N = 6 slopes 2,2,2,7/3,5/2,3 (see TestTheilSen). Var S = 4*3*13/18 = 8.667,
        # C = 1.95996 * 2.9439 = 5.770: lower rank round((6 - 5.770)/2) = 0 -> the first
        # slope; upper rank round((6 + 5.770)/2) = 6 -> the last.
        fit = theil_sen([0.0, 1.0, 2.0, 3.0], [0.0, 2.0, 4.0, 7.0])
        assert fit is not None
        assert (fit.ci_low_per_day, fit.ci_high_per_day) == (2.0, 3.0)

    def test_interior_ranks_of_ten_points(self) -> None:
        # n = 10 distinct times and values: N = 45, Var S = 10*9*25/18 = 125, C = 1.95996 *
        # 11.1803 = 21.913: ranks round(11.54) = 12 and round(33.46) = 33 (1-based).
        t = [float(i) for i in range(10)]
        y = [0.3, 1.9, 1.1, 3.6, 2.8, 5.5, 4.2, 7.9, 6.1, 9.4]
        slopes = sorted((y[j] - y[i]) / (t[j] - t[i]) for i in range(10) for j in range(i + 1, 10))
        fit = theil_sen(t, y)
        assert fit is not None
        assert fit.ci_low_per_day == pytest.approx(slopes[12 - 1])
        assert fit.ci_high_per_day == pytest.approx(slopes[33])

    def test_ties_in_time_and_value(self) -> None:
        # t ties: one pair (2*1*9 = 18); y ties: one triple (3*2*11 = 66). The tied-time pair
        # gives no slope: N = 14. Var S = (6*5*17 - 18 - 66) / 18 = 23.667, C = 1.95996 *
        # 4.8648 = 9.535: ranks round(2.23) = 2 and round(11.77) = 12 (1-based).
        t = [0.0, 1.0, 1.0, 2.0, 3.0, 4.0]
        y = [1.0, 1.0, 2.0, 1.0, 3.0, 4.0]
        slopes = sorted(
            (y[j] - y[i]) / (t[j] - t[i]) for i in range(6) for j in range(i + 1, 6) if t[j] > t[i]
        )
        assert len(slopes) == 14
        fit = theil_sen(t, y)
        assert fit is not None
        assert (fit.ci_low_per_day, fit.ci_high_per_day) == (slopes[2 - 1], slopes[12])

    def test_all_tied_leaves_no_interval(self) -> None:
        # t = 0,0,1 and y all equal: Var S = (66 - 18 - 66) / 18 < 0, so no interval.
        fit = theil_sen([0.0, 0.0, 1.0], [2.0, 2.0, 2.0])
        assert fit is not None
        assert fit.slope_per_day == 0.0
        assert math.isnan(fit.ci_low_per_day)
        assert math.isnan(fit.ci_high_per_day)


class TestMannKendall:
    def test_monotone_six(self) -> None:
        # S = 15 (all 15 pairs rise); Var = 6*5*17/18 = 28.333; Z = (15-1)/sqrt(28.333)
        # = 2.63014; p = 2 * (1 - Phi(2.63014)) = 0.00853
        mk = mann_kendall([1, 2, 3, 4, 5, 6])
        assert mk is not None
        assert mk.s == 15
        assert mk.var_s == pytest.approx(510 / 18)
        assert mk.z == pytest.approx(2.63014, abs=1e-5)
        assert mk.p_value == pytest.approx(0.00853, abs=1e-5)
        assert mk.tau == 1.0

    def test_tie_correction(self) -> None:
        # x = 1,2,2,3,3,3. S: from 1 -> +5; from each 2 -> +3 (the 3s), 0 (other 2) => +6;
        # among 3s 0 => S = 11. Ties: t=2 -> 2*1*9 = 18; t=3 -> 3*2*11 = 66.
        # Var = (6*5*17 - 84) / 18 = 426 / 18 = 23.667; Z = 10 / 4.86484 = 2.05556;
        # p = 2 * (1 - Phi(2.0556)) = 0.0398 (normal table)
        mk = mann_kendall([1, 2, 2, 3, 3, 3])
        assert mk is not None
        assert mk.s == 11
        assert mk.var_s == pytest.approx(426 / 18)
        assert mk.z == pytest.approx(2.05556, abs=1e-5)
        assert mk.p_value == pytest.approx(0.0398, abs=2e-4)

    def test_zigzag_ties(self) -> None:
        # 1,2,1,2,1,2: (1 before 2) pairs = 3+2+1 = 6; (2 before 1) pairs = 2+1 = 3: S = 3.
        # Two tie groups of 3: 2 * 66 = 132; Var = (510 - 132)/18 = 21; Z = 2/sqrt(21) = 0.4364
        mk = mann_kendall([1, 2, 1, 2, 1, 2])
        assert mk is not None
        assert mk.s == 3
        assert mk.var_s == pytest.approx(21.0)
        assert mk.z == pytest.approx(2 / math.sqrt(21))
        assert mk.p_value == pytest.approx(0.6625, abs=1e-4)

    def test_decreasing_and_zero(self) -> None:
        mk = mann_kendall([6, 5, 4, 3, 2, 1])
        assert mk is not None
        assert mk.s == -15
        assert mk.z == pytest.approx(-2.63014, abs=1e-5)
        flat = mann_kendall([2, 2, 2])
        assert flat is not None
        assert (flat.s, flat.var_s, flat.z, flat.p_value) == (0, 0.0, 0.0, 1.0)
        assert mann_kendall([1]) is None


class TestTrend:
    def test_improving_when_lower_is_better(self) -> None:
        # 70,65,...,40 weekly: every pairwise slope is -5/week -> Theil-Sen -5/week.
        # n = 7: S = -21, Var = 7*6*19/18 = 44.333, Z = -20/6.6583 = -3.0037, p = 0.00267
        result = trend(weekly([70, 65, 60, 55, 50, 45, 40]), lower_is_better=True)
        assert result.slope_per_week == pytest.approx(-5.0)
        assert result.p_value == pytest.approx(0.00267, abs=1e-5)
        assert result.n == 7
        assert result.direction == "improving"
        assert result.slope_ci_low_per_week is not None
        assert result.slope_ci_high_per_week is not None

    def test_same_series_is_worsening_when_higher_is_better(self) -> None:
        result = trend(weekly([70, 65, 60, 55, 50, 45, 40]), lower_is_better=False)
        assert result.direction == "worsening"

    def test_fewer_than_six_points_is_insufficient(self) -> None:
        # A perfect 5-point trend still gets no verdict (DESIGN.md: never from < 6 points)
        result = trend(weekly([50, 40, 30, 20, 10]), lower_is_better=True)
        assert result.direction == "insufficient_data"
        assert result.slope_per_week is None
        assert result.p_value is None
        assert result.n == 5

    def test_no_data_and_one_point(self) -> None:
        assert trend([], lower_is_better=True).direction == "insufficient_data"
        assert trend(weekly([3]), lower_is_better=True).n == 1

    def test_all_equal_is_flat(self) -> None:
        result = trend(weekly([4, 4, 4, 4, 4, 4, 4]), lower_is_better=True)
        assert result.direction == "no_clear_trend"
        assert result.slope_per_week == 0.0
        assert result.p_value == 1.0

    def test_noise_is_no_clear_trend(self) -> None:
        result = trend(weekly([1, 2, 1, 2, 1, 2]), lower_is_better=True)
        assert result.p_value == pytest.approx(0.6625, abs=1e-4)  # see test_zigzag_ties
        assert result.direction == "no_clear_trend"

    def test_all_at_one_instant_is_insufficient(self) -> None:
        result = trend([(T0, float(v)) for v in range(8)], lower_is_better=True)
        assert result.direction == "insufficient_data"

    def test_unsorted_input_is_sorted_by_time(self) -> None:
        points = weekly([70, 65, 60, 55, 50, 45, 40])
        assert trend(points[::-1], lower_is_better=True) == trend(points, lower_is_better=True)

    def test_dst_uses_real_elapsed_time(self) -> None:
        # Europe/London springs forward at 01:00 UTC on 2026-03-29. Daily readings at 00:30
        # local time: from 28 Mar to 29 Mar is 24 h, from 29 Mar to 30 Mar only 23 h real time.
        # The verdict must equal that for the same instants written in UTC.
        london = ZoneInfo("Europe/London")
        local = [
            (datetime(2026, 3, 25 + i, 0, 30, tzinfo=london), float(v))
            for i, v in enumerate([9, 8, 8, 6, 5, 3, 2])
        ]
        utc = [(when.astimezone(UTC), v) for when, v in local]
        assert trend(local, lower_is_better=True) == trend(utc, lower_is_better=True)

    def test_rejects_naive_datetimes_and_low_min_points(self) -> None:
        naive = [(datetime(2026, 1, 1) + timedelta(days=i), 1.0) for i in range(6)]  # noqa: DTZ001
        with pytest.raises(ValueError, match="timezone-aware"):
            trend(naive, lower_is_better=True)
        with pytest.raises(ValueError, match="at least 6"):
            trend(weekly([1, 2, 3, 4, 5]), min_points=5, lower_is_better=True)

    def test_min_points_can_be_raised(self) -> None:
        result = trend(weekly([70, 65, 60, 55, 50, 45, 40]), min_points=8, lower_is_better=True)
        assert result.direction == "insufficient_data"


class TestRollingMedian:
    def test_trailing(self) -> None:
        # windows (1,5,2) -> 2, (5,2,8) -> 5, (2,8,3) -> 3; first k-1 positions empty
        assert rolling_median([1, 5, 2, 8, 3], 3) == [None, None, 2.0, 5.0, 3.0]

    def test_centered(self) -> None:
        assert rolling_median([1, 5, 2, 8, 3], 3, centered=True) == [None, 2.0, 5.0, 3.0, None]
        # k = 5 centered over 5 values: only the middle has a full window: median 3
        assert rolling_median([1, 5, 2, 8, 3], 5, centered=True) == [None, None, 3.0, None, None]

    def test_missing_values_empty_their_windows(self) -> None:
        assert rolling_median([1, 5, None, 8, 3, 9], 3) == [None, None, None, None, None, 8.0]

    def test_short_series_and_bad_k(self) -> None:
        assert rolling_median([1.0, 2.0], 3) == [None, None]
        assert rolling_median([], 3) == []
        assert rolling_median([4.0, 1.0], 1) == [4.0, 1.0]
        with pytest.raises(ValueError, match="odd"):
            rolling_median([1.0, 2.0, 3.0], 2)
        with pytest.raises(ValueError, match="odd"):
            rolling_median([1.0], 0)

    def test_matches_numpy_median_of_each_full_window(self) -> None:
        rng = np.random.default_rng(7)
        values = rng.normal(size=40).tolist()
        out = rolling_median(values, 5)
        for i in range(4, 40):
            assert out[i] == pytest.approx(float(np.median(values[i - 4 : i + 1])))

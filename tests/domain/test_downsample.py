"""LTTB downsampling: small cases worked by hand, and the properties every result has."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from practice_dashboard.domain.downsample import lttb, lttb_indices, take


class TestHandWorked:
    def test_keeps_the_peak(self) -> None:
        # 5 points, threshold 3: one inner bucket of width (5-2)/(3-2) = 3 = indices 1..3; the
        # next "bucket" is the last point (4, 0). Twice the area with a = (0, 0), c = (4, 0):
        #   |(0-4)(y_i-0) - (0-x_i)(0-0)| = 4 y_i  ->  (1,1): 4, (2,0): 0, (3,5): 20.
        points = [(0.0, 0.0), (1.0, 1.0), (2.0, 0.0), (3.0, 5.0), (4.0, 0.0)]
        assert lttb_indices([p[0] for p in points], [p[1] for p in points], 3) == [0, 3, 4]
        assert lttb(points, 3) == [(0.0, 0.0), (3.0, 5.0), (4.0, 0.0)]

    def test_two_buckets(self) -> None:
        # 6 points, threshold 4: bucket width (6-2)/(4-2) = 2.
        # Bucket 1 = indices 1, 2; next bucket = indices 3, 4, average (3.5, 5.5); a = (0, 0).
        #   i=1 (1,2): |(0-3.5)(2) - (0-1)(5.5)| = |-7 + 5.5| = 1.5
        #   i=2 (2,1): |(0-3.5)(1) - (0-2)(5.5)| = |-3.5 + 11| = 7.5   -> keep 2
        # Bucket 2 = indices 3, 4; next = the last point (5, 0); a = (2, 1).
        #   i=3 (3,8): |(2-5)(8-1) - (2-3)(0-1)| = |-21 - 1| = 22      -> keep 3
        #   i=4 (4,3): |(2-5)(3-1) - (2-4)(0-1)| = |-6 - 2| = 8
        x = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
        y = [0.0, 2.0, 1.0, 8.0, 3.0, 0.0]
        assert lttb_indices(x, y, 4) == [0, 2, 3, 5]

    def test_straight_line_takes_each_buckets_first_point(self) -> None:
        # Every triangle on a line has area 0, so the first point of each bucket wins.
        # 10 points, threshold 5: width 8/3; buckets [1, 3), [3, 6), [6, 9).
        x = [float(i) for i in range(10)]
        assert lttb_indices(x, x, 5) == [0, 1, 3, 6, 9]

    def test_short_series_is_kept_whole(self) -> None:
        assert lttb_indices([0.0, 1.0, 2.0], [5.0, 1.0, 2.0], 3) == [0, 1, 2]
        assert lttb_indices([0.0, 1.0], [5.0, 1.0], 500) == [0, 1]
        assert lttb_indices([], [], 10) == []

    def test_take_carries_labels_along(self) -> None:
        assert take(["a", "b", "c", "d"], [0, 2, 3]) == ["a", "c", "d"]


class TestRefusals:
    def test_threshold_below_three(self) -> None:
        with pytest.raises(ValueError, match="at least 3"):
            lttb_indices([0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0], 2)

    def test_unequal_lengths(self) -> None:
        with pytest.raises(ValueError, match="same length"):
            lttb_indices([0.0, 1.0], [0.0], 3)

    def test_non_finite(self) -> None:
        with pytest.raises(ValueError, match="finite"):
            lttb_indices([0.0, 1.0, 2.0, 3.0], [0.0, math.nan, 1.0, 2.0], 3)

    def test_unsorted_x(self) -> None:
        with pytest.raises(ValueError, match="ascending"):
            lttb_indices([0.0, 2.0, 1.0, 3.0], [0.0, 1.0, 2.0, 3.0], 3)


series = st.lists(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
    min_size=0,
    max_size=300,
)


class TestProperties:
    @given(ys=series, threshold=st.integers(min_value=3, max_value=80))
    def test_shape_of_every_result(self, ys: list[float], threshold: int) -> None:
        xs = [float(i) for i in range(len(ys))]
        kept = lttb_indices(xs, ys, threshold)
        assert len(kept) == min(len(ys), threshold)
        assert kept == sorted(set(kept))  # strictly ascending, no repeats
        if ys:
            assert kept[0] == 0
            assert kept[-1] == len(ys) - 1

    def test_a_single_spike_survives_heavy_downsampling(self) -> None:
        ys = [0.0] * 5000
        ys[3217] = 10.0
        kept = lttb_indices([float(i) for i in range(5000)], ys, 50)
        assert 3217 in kept

    def test_equal_x_values_are_allowed(self) -> None:
        # Two check-ins logged in the same minute: ascending, not strictly.
        kept = lttb_indices([0.0, 1.0, 1.0, 2.0, 3.0], [0.0, 1.0, 5.0, 0.0, 0.0], 3)
        assert kept == [0, 2, 4]

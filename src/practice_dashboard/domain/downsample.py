"""Downsampling long series for display: Largest-Triangle-Three-Buckets (LTTB).

Steinarsson, S. (2013). *Downsampling Time Series for Visual Representation*. MSc thesis,
University of Iceland (section 4.2, "Largest-Triangle-Three-Buckets").

The algorithm keeps the first and the last point, splits the points between them into
``threshold - 2`` buckets of (nearly) equal size, and from each bucket keeps the one point
that forms the largest triangle with the point kept from the previous bucket and the average
of the next bucket. Peaks and troughs survive, so a chart of 500 points looks like the chart
of 5,000. It is for display only: statistics are always computed on the full series.

Pure functions over plain numbers; the x values must be in ascending order.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Final, TypeVar

T = TypeVar("T")

#: Fewer than three points cannot form a triangle: the smallest useful threshold.
MIN_THRESHOLD: Final = 3


def lttb_indices(x: Sequence[float], y: Sequence[float], threshold: int) -> list[int]:
    """Indices of the points LTTB keeps, ascending; all indices when nothing needs dropping.

    ``x`` must be ascending and finite, ``y`` finite and of the same length. The first and
    last index are always kept. Raises ValueError for a threshold below 3, unequal lengths
    or non-finite values.
    """
    n = len(x)
    if len(y) != n:
        raise ValueError("x and y must have the same length")
    if threshold < MIN_THRESHOLD:
        raise ValueError(f"threshold must be at least {MIN_THRESHOLD}, got {threshold}")
    if not all(math.isfinite(v) for v in x) or not all(math.isfinite(v) for v in y):
        raise ValueError("x and y must be finite numbers")
    if any(b < a for a, b in itertools.pairwise(x)):
        raise ValueError("x must be in ascending order")
    if n <= threshold:
        return list(range(n))

    # Bucket width over the n - 2 inner points; buckets start at index 1 (index 0 is kept).
    every = (n - 2) / (threshold - 2)
    kept = [0]
    a = 0  # the point kept from the previous bucket
    for bucket in range(threshold - 2):
        # The average of the *next* bucket is the triangle's third corner; for the last inner
        # bucket the next "bucket" is the final point alone.
        next_lo = math.floor((bucket + 1) * every) + 1
        next_hi = min(math.floor((bucket + 2) * every) + 1, n)
        count = next_hi - next_lo
        avg_x = sum(x[next_lo:next_hi]) / count
        avg_y = sum(y[next_lo:next_hi]) / count

        lo = math.floor(bucket * every) + 1
        hi = math.floor((bucket + 1) * every) + 1
        ax, ay = x[a], y[a]
        best, best_area = lo, -1.0
        for i in range(lo, hi):
            # Twice the triangle's area (the factor 1/2 does not change which is largest).
            area = abs((ax - avg_x) * (y[i] - ay) - (ax - x[i]) * (avg_y - ay))
            if area > best_area:
                best, best_area = i, area
        kept.append(best)
        a = best
    kept.append(n - 1)
    return kept


def lttb(points: Sequence[tuple[float, float]], threshold: int) -> list[tuple[float, float]]:
    """The (x, y) points LTTB keeps (see :func:`lttb_indices`)."""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return [points[i] for i in lttb_indices(xs, ys, threshold)]


def take(values: Sequence[T], indices: Sequence[int]) -> list[T]:
    """``values`` at ``indices``: carries labels and hover texts along with kept points."""
    return [values[i] for i in indices]

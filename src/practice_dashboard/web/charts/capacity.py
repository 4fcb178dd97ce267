"""The capacity growth chart: weekly capacity, tolerated activation and time in window."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from practice_dashboard.domain.facts import (
    Zone,
)
from practice_dashboard.domain.metrics import weekly_means
from practice_dashboard.domain.stats import (
    SECONDS_PER_DAY,
    percentile,
)
from practice_dashboard.domain.windows import fitted_line
from practice_dashboard.web.charts.common import (
    _BLOCK_DAYS,
    _DAY,
    _WEEK,
    BLUE,
    GREEN,
    ORANGE,
    Chart,
    _figure,
    _Frame,
    _note,
    _round,
    _trend_phrase,
    _ts,
    fmt_number,
    hover,
)

# --------------------------------------------------------------------------------------------
# c. Capacity growth
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Observations:
    t: np.ndarray
    activation: np.ndarray
    capacity: np.ndarray
    within: np.ndarray

    @staticmethod
    def of(frame: _Frame) -> _Observations:
        obs = sorted(frame.view.facts.observations, key=lambda o: o.observed_at)
        n = len(obs)
        return _Observations(
            t=np.fromiter((_ts(o.observed_at) for o in obs), np.float64, n),
            activation=np.fromiter((o.activation for o in obs), np.float64, n),
            capacity=np.fromiter(
                (math.nan if o.capacity is None else o.capacity for o in obs), np.float64, n
            ),
            within=np.fromiter((o.zone == Zone.WITHIN for o in obs), np.bool_, n),
        )


def capacity_chart(frame: _Frame, obs: _Observations) -> Chart:
    clock, th, view = frame.clock, frame.thresholds, frame.view
    span = frame.end - frame.start
    weeks = max(1, math.ceil(span / _WEEK))
    mids, means = weekly_means(obs.t, obs.capacity, end=frame.end, weeks=weeks)
    traces: list[dict[str, Any]] = []
    if mids.size:
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "Capacity rating, weekly mean",
                "x": clock.xs([float(v) for v in mids]),
                "y": [_round(float(v), 1) for v in means],
                "line": {"color": BLUE, "width": 2},
                "marker": {"symbol": "circle", "size": 7, "color": BLUE},
                "hovertemplate": hover(f"Week around {_DAY}<br>mean capacity %{{y}}/10"),
            }
        )
    # Tolerated activation and time in window per 28-day period, counted back from the end.
    block = _BLOCK_DAYS * SECONDS_PER_DAY
    blocks = max(1, math.ceil(span / block))
    tol_x: list[str] = []
    tol_y: list[float | None] = []
    tol_data: list[str] = []
    tiw_x: list[str] = []
    tiw_y: list[float | None] = []
    tiw_data: list[list[str | int]] = []
    for b in range(blocks - 1, -1, -1):
        hi = frame.end - b * block
        lo = hi - block
        i, j = np.searchsorted(obs.t, [lo, hi], side="left")
        if j <= i:
            continue
        within = obs.within[i:j]
        label = f"{clock.day(lo)} to {clock.day(hi - 1)}"
        x = clock.x((lo + hi) / 2)
        tolerated = percentile(obs.activation[i:j][within], th.tolerated_activation_percentile)
        if tolerated is not None:
            tol_x.append(x)
            tol_y.append(_round(tolerated, 1))
            tol_data.append(label)
        share = float(within.mean())
        tiw_x.append(x)
        tiw_y.append(_round(share * 100, 0))
        tiw_data.append([label, int(j - i)])
    if tol_x:
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "Tolerated activation, per 28 days",
                "x": tol_x,
                "y": tol_y,
                "line": {"color": GREEN, "width": 2, "dash": "dot"},
                "marker": {"symbol": "square", "size": 8, "color": GREEN},
                "customdata": tol_data,
                "hovertemplate": hover(
                    "%{customdata}<br>tolerated activation %{y}/10"
                    "<br>(90th percentile while within the window)"
                ),
            }
        )
    if tiw_x:
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "Time in window, per 28 days (%, right axis)",
                "x": tiw_x,
                "y": tiw_y,
                "yaxis": "y2",
                "line": {"color": ORANGE, "width": 2},
                "marker": {"symbol": "diamond", "size": 8, "color": ORANGE},
                "customdata": tiw_data,
                "hovertemplate": hover(
                    "%{customdata[0]}<br>time in window %{y}% of %{customdata[1]} check-ins"
                ),
            }
        )
    layout = frame.layout(
        # Half a step below 0, so a rating or share of 0 is drawn whole, not cut by the axis.
        {"title": {"text": "Rating / activation (0–10)"}, "range": [-0.5, 10.5]},
        yaxis2={
            "title": {"text": "Time in window (%)"},
            "overlaying": "y",
            "side": "right",
            "range": [-5, 105],
            "showgrid": False,
            "zeroline": False,
        },
    )
    trend = view.metrics.capacity.trend
    fitted = None
    if trend.direction not in ("insufficient_data", "no_clear_trend"):
        tm, ym = weekly_means(obs.t, obs.capacity, end=frame.end, weeks=th.trend_weeks)
        if (line := fitted_line(tm, ym)) is not None:
            fitted = (line[1][0], line[1][1])
    summary = _trend_phrase(
        trend,
        what="the weekly capacity rating",
        weeks=th.trend_weeks,
        fitted=fitted,
        unit=lambda v: f"{fmt_number(v)}/10",
        missing="weeks with capacity ratings",
        minimum=th.trend_min_points,
    )
    tiw = view.metrics.capacity.time_in_window
    summary += (
        f"; time in window was {tiw:.0%} in the last 28 days."
        if tiw is not None
        else "; no check-ins in the last 28 days to give a time in window."
    )
    if not traces:
        _note(layout, "No check-ins in this period", centre=True)
    return Chart("chart-capacity", "Capacity growth", summary, _figure(traces, layout))

"""The recovery time chart: minutes to return to baseline, rolling median, Theil-Sen trend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from practice_dashboard.domain.facts import EpisodeFact
from practice_dashboard.domain.labels import TREND_WORDS
from practice_dashboard.domain.stats import (
    rolling_median,
)
from practice_dashboard.domain.windows import ROLLING_K, fitted_line
from practice_dashboard.web.charts.common import (
    _DAY,
    _WEEK,
    _WHEN,
    BLACK,
    BLUE,
    GREEN,
    SKY,
    Chart,
    _figure,
    _Frame,
    _markers,
    _note,
    _plural,
    _round,
    _thin,
    _thinning_note,
    _trend_phrase,
    _ts,
    fmt_minutes,
    fmt_number,
    fmt_p,
    hover,
)

# --------------------------------------------------------------------------------------------
# b. Recovery time
# --------------------------------------------------------------------------------------------


def _recovered(
    episodes: Sequence[EpisodeFact], start: float, end: float, lookback: int
) -> list[tuple[float, float]]:
    """(onset, minutes) of the recovered episodes the chart reads, in time order: those from
    ``start`` (the period's, and the trend's weeks before it) up to ``end``, after the
    ``lookback`` recovered ones before ``start`` that a trailing rolling median reads.
    The same points as from the whole course, without working out every earlier episode's
    recovery time (a long course has thousands)."""
    times = [_ts(e.started_at) for e in episodes]
    drawn = [
        (t, minutes)
        for t, e in zip(times, episodes, strict=True)
        if start <= t < end and (minutes := e.recovery_minutes) is not None and minutes >= 0
    ]
    earlier = sorted((i for i, t in enumerate(times) if t < start), key=times.__getitem__)
    back: list[tuple[float, float]] = []
    for i in reversed(earlier):  # latest first; onsets tied with the last one kept are all read
        if len(back) >= lookback and (not back or times[i] < back[-1][0]):
            break
        minutes = episodes[i].recovery_minutes
        if minutes is not None and minutes >= 0:
            back.append((times[i], minutes))
    return (sorted(back)[-lookback:] if lookback else []) + sorted(drawn)


def recovery_chart(frame: _Frame) -> Chart:
    clock, view, th = frame.clock, frame.view, frame.thresholds
    facts = view.facts
    # The period, and the trend line's weeks (which may begin before the period).
    window_start = frame.end - th.trend_weeks * _WEEK
    reach = min(frame.start, window_start)
    recovered = _recovered(facts.episodes, reach, frame.end, ROLLING_K - 1)
    t_all = [t for t, _ in recovered]
    y_all = [m for _, m in recovered]
    # Trailing (live display) rolling median over the whole course, so the period's first
    # points have a value when earlier episodes exist; the first k-1 of care stay empty.
    rolling = rolling_median(y_all, ROLLING_K)
    in_period = [i for i, t in enumerate(t_all) if frame.start <= t < frame.end]
    layout = frame.layout(
        {"title": {"text": "Minutes to return to baseline"}, "rangemode": "tozero"}
    )
    traces: list[dict[str, Any]] = []
    notes: list[str] = []

    baseline = view.metrics.baseline.recovery_minutes
    if baseline.normal_low is not None and baseline.normal_high is not None:
        layout["shapes"].insert(
            0,
            {
                "type": "rect",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": _round(baseline.normal_low),
                "y1": _round(baseline.normal_high),
                "fillcolor": "rgba(0,158,115,0.13)",
                "line": {"width": 0},
                "layer": "below",
                "showlegend": True,
                "name": "Personal baseline, usual range",
            },
        )
    if baseline.baseline_median is not None:
        layout["shapes"].insert(
            0,
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": _round(baseline.baseline_median),
                "y1": _round(baseline.baseline_median),
                "line": {"color": GREEN, "width": 1.5, "dash": "dash"},
                "layer": "below",
                "showlegend": True,
                "name": f"Personal baseline median ({fmt_minutes(baseline.baseline_median)})",
            },
        )

    if in_period:
        t = [t_all[i] for i in in_period]
        y = [y_all[i] for i in in_period]
        keep = _thin(t, y)
        traces.append(
            _markers(
                "Recovery time per episode",
                SKY,
                "circle",
                size=7,
                x=clock.xs([t[i] for i in keep]),
                y=[_round(y[i], 0) for i in keep],
                hovertemplate=hover(f"{_WHEN}<br>back to baseline after %{{y}} min"),
            )
        )
        if note := _thinning_note(len(keep), len(t), "episodes"):
            notes.append(note)
        line = [(t_all[i], v) for i in in_period if (v := rolling[i]) is not None]
        if line:
            lt = [p[0] for p in line]
            ly = [p[1] for p in line]
            lkeep = _thin(lt, ly)
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": f"Rolling median of {ROLLING_K} episodes",
                    "x": clock.xs([lt[i] for i in lkeep]),
                    "y": [_round(ly[i], 0) for i in lkeep],
                    # A trailing median holds until the next episode: draw it as steps.
                    "line": {"color": BLUE, "width": 2.5, "shape": "hv"},
                    "hovertemplate": hover(
                        f"{_DAY}<br>median of the last {ROLLING_K} episodes: %{{y}} min"
                    ),
                }
            )

    trend = view.metrics.recovery.trend
    tw = np.array([t for t in t_all if window_start <= t < frame.end], dtype=np.float64)
    yw = np.array([y for t, y in recovered if window_start <= t < frame.end], dtype=np.float64)
    fitted: tuple[float, float] | None = None
    if trend.direction != "insufficient_data" and (line_fit := fitted_line(tw, yw)) is not None:
        ends, values = line_fit
        fitted = (max(0.0, values[0]), max(0.0, values[1]))
        words = TREND_WORDS.get(trend.direction, TREND_WORDS["no_clear_trend"])
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"Trend, last {th.trend_weeks} weeks (Theil–Sen): {words}",
                "x": clock.xs(ends),
                "y": [_round(v) for v in values],
                "line": {"color": BLACK, "width": 2, "dash": "dash"},
                "hovertemplate": hover(
                    f"Theil–Sen trend: {fmt_number(trend.slope_per_week or 0.0)} minutes per "
                    f"week ({words}, {fmt_p(trend.p_value)})"
                ),
            }
        )
    summary = (
        _trend_phrase(
            trend,
            what="typical recovery time",
            weeks=th.trend_weeks,
            fitted=fitted,
            unit=fmt_minutes,
            missing="episodes with a return to baseline",
            minimum=th.trend_min_points,
        )
        + "."
    )
    unrecovered = sum(1 for e in view.episodes if e.recovery_minutes is None)
    if unrecovered:
        notes.append(
            f"{_plural(unrecovered, 'episode')} not back to baseline (or not recorded) "
            "in this period: shown in the activation episodes chart, not here"
        )
    if not in_period:
        _note(layout, "No episode in this period returned to baseline", centre=True)
    for note in notes:
        if "LTTB" in note:
            _note(layout, note)
    return Chart(
        "chart-recovery",
        "Recovery time after activation",
        summary,
        _figure(traces, layout),
        tuple(notes),
    )

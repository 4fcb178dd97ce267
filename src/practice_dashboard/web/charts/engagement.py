"""The engagement chart: sessions, engagement ratings and homework."""

from __future__ import annotations

from typing import Any

from practice_dashboard.domain.attendance import attendance_counts
from practice_dashboard.web.charts.common import (
    _DAY,
    _HOMEWORK_SHARE,
    _WHEN,
    ATTENDANCE_STYLE,
    BLUE,
    MARGIN,
    PURPLE,
    Chart,
    _figure,
    _Frame,
    _markers,
    _note,
    _plural,
    _ts,
    hover,
)

# --------------------------------------------------------------------------------------------
# e. Engagement
# --------------------------------------------------------------------------------------------


def engagement_chart(frame: _Frame, now: float) -> Chart:
    clock, view, th = frame.clock, frame.view, frame.thresholds
    sessions = [
        s
        for s in sorted(view.facts.sessions, key=lambda s: s.starts_at)
        if frame.start <= _ts(s.starts_at) < min(frame.end, now)
    ]
    traces: list[dict[str, Any]] = []
    # The attendance strip: one row, each kind with its own symbol, colour and legend word.
    for attendance, (word, color, symbol) in ATTENDANCE_STYLE.items():
        group = [s for s in sessions if s.attendance == attendance]
        if not group:
            continue
        traces.append(
            _markers(
                word,
                color,
                symbol,
                size=11,
                x=clock.xs([_ts(s.starts_at) for s in group]),
                y=[0] * len(group),
                yaxis="y",
                hovertemplate=hover(f"{_WHEN}<br>session: {word}"),
            )
        )
    rated = [s for s in sessions if s.engagement is not None]
    if rated:
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "Engagement rating (0–10)",
                "x": clock.xs([_ts(s.starts_at) for s in rated]),
                "y": [s.engagement for s in rated],
                "yaxis": "y2",
                "line": {"color": BLUE, "width": 2},
                "marker": {"symbol": "circle", "size": 7, "color": BLUE},
                "hovertemplate": hover(f"{_DAY}<br>engagement %{{y}}/10"),
            }
        )
    homework = [(s, hw) for s in sessions if (hw := s.homework_completed) is not None]
    if homework:
        traces.append(
            _markers(
                "Homework done (yes 100%, partial 50%, no 0%; right axis)",
                PURPLE,
                "square",
                size=8,
                x=clock.xs([_ts(s.starts_at) for s, _ in homework]),
                y=[_HOMEWORK_SHARE[hw] for _, hw in homework],
                yaxis="y3",
                hovertemplate=hover(f"{_DAY}<br>homework done: %{{y}}%"),
            )
        )
    layout = frame.layout(
        {
            "domain": [0, 0.12],
            "range": [-1, 1],
            "tickvals": [0],
            "ticktext": ["sessions"],
            "showgrid": False,
            "fixedrange": True,
        },
        yaxis2={
            "domain": [0.22, 1],
            "title": {"text": "Engagement (0–10)"},
            "range": [-0.5, 10.5],
            "gridcolor": "#eef1f3",
            "zeroline": False,
        },
        yaxis3={
            "overlaying": "y2",
            "side": "right",
            "range": [-5, 105],
            "title": {"text": "Homework (%)"},
            "showgrid": False,
            "zeroline": False,
        },
        height=380,
        # The attendance strip's "sessions" and the right axis's title take a little more.
        margin=MARGIN | {"l": 72, "r": 60},
    )
    e = view.metrics.engagement
    attended, due = attendance_counts(view.facts.sessions, min(frame.end, now), th)
    parts: list[str] = []
    if e.attendance_rate is not None:
        parts.append(f"Attended {attended} of the last {_plural(due, 'due session')}")
    else:
        parts.append("No sessions have been due yet")
    if e.days_since_last_attended is not None:
        parts.append(
            f"last attended {_plural(e.days_since_last_attended, 'day')} ago (usual rhythm: "
            f"every {_plural(view.facts.session_cadence_days, 'day')})"
        )
    if e.homework_completion is not None:
        parts.append(f"homework completion {e.homework_completion:.0%}")
    summary = "; ".join(parts) + "."
    if not sessions:
        _note(layout, "No past sessions in this period", centre=True)
    return Chart("chart-engagement", "Engagement", summary, _figure(traces, layout))

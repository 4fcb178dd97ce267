"""Plotly figures for the client page and the print view, one module per chart family.

Figures are plain dicts built from the domain's results (see ``common`` for how they are made
safe and small); the statistics behind them are the domain's (``domain.windows``,
``domain.attendance``, ``domain.stats``).
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from practice_dashboard.domain.attendance import attendance_counts
from practice_dashboard.domain.flags import Thresholds
from practice_dashboard.services.analytics.client_view import ClientView
from practice_dashboard.web.charts.capacity import _Observations, capacity_chart
from practice_dashboard.web.charts.common import (
    Chart,
    LocalClock,
    _Frame,
    _ts,
    escape,
    fmt_minutes,
    fmt_number,
    fmt_p,
    plotly_text,
    script_json,
)
from practice_dashboard.web.charts.engagement import engagement_chart
from practice_dashboard.web.charts.episodes import episodes_chart
from practice_dashboard.web.charts.measures import measure_charts
from practice_dashboard.web.charts.monitoring import monitoring_chart
from practice_dashboard.web.charts.recovery import recovery_chart
from practice_dashboard.web.charts.states import states_chart

__all__ = [
    "Chart",
    "LocalClock",
    "attendance_counts",
    "build_charts",
    "escape",
    "fmt_minutes",
    "fmt_number",
    "fmt_p",
    "plotly_text",
    "script_json",
]


def build_charts(
    view: ClientView,
    *,
    vocabulary: str,
    tz: tzinfo,
    thresholds: Thresholds,
    now: datetime,
) -> list[Chart]:
    """Every chart of the client page, in reading order."""
    frame = _Frame(view=view, clock=LocalClock(tz), vocabulary=vocabulary, thresholds=thresholds)
    obs = _Observations.of(frame)
    return [
        episodes_chart(frame),
        recovery_chart(frame),
        monitoring_chart(frame, _ts(now)),
        capacity_chart(frame, obs),
        states_chart(frame),
        engagement_chart(frame, _ts(now)),
        *measure_charts(frame),
    ]

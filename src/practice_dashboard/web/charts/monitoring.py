"""The monitoring chart: the evidence behind ``deterioration``, episode by episode.

Three stacked panels share the time axis: recovery time, not back to baseline and recognition
time. Each draws its CUSUM statistic after every episode (``domain.monitoring``), the limit
that raises the flag, where the statistic crossed it, when it restarted from an
acknowledgement, and when monitoring began (after the personal baseline). The words that
explain it live here, with the figure.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any, Final

from practice_dashboard.domain.monitoring import ChartPoint, ChartQuantity, MonitoringChart
from practice_dashboard.web.charts.common import (
    _WHEN,
    BLUE,
    GREY,
    PURPLE,
    VERMILLION,
    Chart,
    _figure,
    _Frame,
    _round,
    _thin,
    _thinning_note,
    _ts,
    fmt_minutes,
    fmt_number,
    hover,
)


@dataclass(frozen=True, slots=True)
class _Words:
    panel: str  # the panel's title
    what: str  # what its line adds up, in plain words
    usual: str  # how the client's usual is said: "{}" is the figure


#: The panels in reading order, with their words.
PANELS: Final[tuple[tuple[ChartQuantity, _Words], ...]] = (
    (
        "recovery",
        _Words(
            "Recovery time",
            "evidence that recovery is slower than this client's usual",
            "their usual recovery: about {}",
        ),
    ),
    (
        "unrecovered",
        _Words(
            "Not back to baseline",
            "evidence that more episodes than usual are not coming back to baseline",
            "their usual: about {} of episodes not back",
        ),
    ),
    (
        "recognition",
        _Words(
            "Recognition time",
            "evidence that noticing activation takes longer than this client's usual",
            "their usual time to notice: about {}",
        ),
    ),
)
ADDED_UP: Final = "added up episode by episode; the flag is raised when it crosses the line"
NOT_ENOUGH: Final = "not enough episodes yet"
MONITORING_STARTS: Final = "Monitoring starts (after the personal baseline)"
RESTARTED: Final = "Restarted (flag acknowledged, or a care change noted)"
CROSSED: Final = "Crossed the line"
CROSSED_BEFORE_RESTART: Final = "Crossed the line before the restart"
#: Vertical room of each panel (paper fractions, top to bottom) and the figure's height.
_DOMAINS: Final = ((0.72, 1.0), (0.38, 0.64), (0.0, 0.28))
_HEIGHT: Final = 600


def _usual(chart: MonitoringChart, words: _Words) -> str | None:
    if chart.reference_median_minutes is not None:
        return words.usual.format(fmt_minutes(chart.reference_median_minutes))
    if chart.reference_share is not None:
        return words.usual.format(f"{chart.reference_share:.0%}")
    return None


def _state(frame: _Frame, chart: MonitoringChart, words: _Words) -> str:
    """One sentence: what the panel says now."""
    name = words.panel
    if chart.status == "insufficient_data":
        return f"{name}: {NOT_ENOUGH} to compare with this client's usual."
    usual = _usual(chart, words)
    usual_words = f" ({usual})" if usual else ""
    if chart.signal_at is not None:
        return (
            f"{name}: crossed the line on {frame.clock.date(_ts(chart.signal_at))}{usual_words}; "
            f"the evidence now stands at {fmt_number(chart.statistic)} against a line at "
            f"{fmt_number(chart.limit)}."
        )
    return (
        f"{name}: below the line{usual_words}; the evidence stands at "
        f"{fmt_number(chart.statistic)} against a line at {fmt_number(chart.limit)}."
    )


def _not_yet(frame: _Frame, chart: MonitoringChart, now: float) -> str:
    """Why no panel can say anything yet: when monitoring starts, and what it needs."""
    begins = ""
    if (start := chart.monitoring_from) is not None:
        verb = "starts" if _ts(start) > min(now, frame.end) else "started"
        begins = f" monitoring {verb} after the personal baseline ({frame.clock.date(_ts(start))}),"
    return (
        f"{NOT_ENOUGH.capitalize()} to compare this client with their usual:{begins} and each "
        f"episode is compared with at least {frame.thresholds.monitoring_min_reference} "
        "earlier ones."
    )


def _axis(n: int) -> str:
    return "" if n == 1 else str(n)


def _point_ts(point: ChartPoint) -> float:
    return _ts(point.at)


def _panel(
    frame: _Frame,
    n: int,
    chart: MonitoringChart,
    words: _Words,
    traces: list[dict[str, Any]],
    layout: dict[str, Any],
    notes: list[str],
) -> None:
    """Draw one chart into panel ``n`` (1 = top)."""
    clock = frame.clock
    axis = _axis(n)
    yref, yname = f"y{axis}", f"yaxis{axis}"
    first = n == 1
    # The points are in onset order (domain/monitoring.py): the period's are one run of them,
    # found by bisection, not by a look at every episode of a long course.
    lo = bisect.bisect_left(chart.points, frame.start, key=_point_ts)
    hi = bisect.bisect_left(chart.points, frame.end, lo=lo, key=_point_ts)
    points = list(chart.points[lo:hi])
    top = max([chart.limit, *(p.statistic for p in points)]) * 1.15
    layout[yname] = {
        "domain": list(_DOMAINS[n - 1]),
        "range": [0, _round(top, 2)],
        "title": {"text": words.panel, "font": {"size": 12}},
        "gridcolor": "#eef1f3",
        "zeroline": False,
        "anchor": "x",
    }
    if points:
        t = [_ts(p.at) for p in points]
        y = [p.statistic for p in points]
        keep = _thin(t, y)
        minutes = [points[i].minutes for i in keep]
        if chart.quantity == "unrecovered":
            custom: list[Any] = [
                "not back to baseline" if m is None else f"back after {fmt_minutes(m)}"
                for m in minutes
            ]
            detail = "%{customdata}"
        else:
            custom = [_round(m, 0) for m in minutes]
            detail = f"{words.panel.lower()}: %{{customdata}} min"
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "Evidence, added up episode by episode",
                "legendgroup": "statistic",
                "showlegend": first,
                "x": clock.xs([t[i] for i in keep]),
                "y": [_round(y[i], 2) for i in keep],
                "yaxis": yref,
                "customdata": custom,
                # The sum holds until the next episode: steps, not slopes.
                "line": {"color": BLUE, "width": 2, "shape": "hv"},
                "marker": {"color": BLUE, "symbol": "circle", "size": 5},
                "hovertemplate": hover(f"{_WHEN}<br>{detail}<br>evidence so far: %{{y}}"),
            }
        )
        if note := _thinning_note(len(keep), len(t), f"{words.panel.lower()} episodes"):
            notes.append(note)
    traces.append(
        {
            "type": "scatter",
            "mode": "lines",
            "name": "The line that raises the flag",
            "legendgroup": "limit",
            "showlegend": first,
            "x": [clock.x(frame.start), clock.x(frame.end)],
            "y": [_round(chart.limit, 2)] * 2,
            "yaxis": yref,
            "line": {"color": VERMILLION, "width": 1.5, "dash": "dash"},
            "hovertemplate": hover(f"the flag is raised above {fmt_number(chart.limit)}"),
        }
    )
    crossings = (
        (chart.signal_at, CROSSED, "star"),
        (chart.previous_signal_at, CROSSED_BEFORE_RESTART, "star-open"),
    )
    for when, name, symbol in crossings:
        if when is None:
            continue
        # The first point at that time, found by bisection (onset order), not by a scan.
        i = bisect.bisect_left(chart.points, _ts(when), key=_point_ts)
        crossing = chart.points[i] if i < len(chart.points) else None
        if crossing is None or crossing.at != when:
            continue
        if not frame.start <= _ts(crossing.at) < frame.end:
            continue
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": name,
                "legendgroup": name,
                "showlegend": not any(t.get("legendgroup") == name for t in traces),
                "x": [clock.x(_ts(crossing.at))],
                "y": [_round(crossing.statistic, 2)],
                "yaxis": yref,
                "marker": {"color": VERMILLION, "symbol": symbol, "size": 15},
                "hovertemplate": hover(f"{_WHEN}<br>{name.lower()}: {words.panel.lower()}"),
            }
        )
    if not points:
        layout["annotations"].append(
            {
                "xref": "paper",
                "yref": f"{yref} domain",
                "x": 0.5,
                "y": 0.5,
                "showarrow": False,
                "text": NOT_ENOUGH.capitalize()
                if chart.status == "insufficient_data"
                else "No episode on this chart in this period",
                "font": {"size": 12, "color": GREY},
                "bgcolor": "rgba(255,255,255,0.85)",
            }
        )


def _mark(
    frame: _Frame, layout: dict[str, Any], at: float, name: str, color: str, dash: str
) -> None:
    """A vertical line through every panel, named in the legend (a restart, monitoring start)."""
    if not frame.start <= at < frame.end:
        return
    x = frame.clock.x(at)
    layout["shapes"].append(
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": x,
            "x1": x,
            "y0": 0,
            "y1": 1,
            "line": {"color": color, "width": 1.5, "dash": dash},
            "layer": "below",
            "showlegend": True,
            "name": name,
        }
    )


def monitoring_chart(frame: _Frame, now: float) -> Chart:
    """The monitoring charts of the 28 days' metrics (as they stood at the period's end)."""
    clock = frame.clock
    charts = frame.view.metrics.monitoring
    layout = frame.layout({}, height=_HEIGHT)
    traces: list[dict[str, Any]] = []
    notes: list[str] = []
    by_quantity = {
        "recovery": charts.recovery,
        "unrecovered": charts.unrecovered,
        "recognition": charts.recognition,
    }
    states: list[str] = []
    for n, (quantity, words) in enumerate(PANELS, start=1):
        chart = by_quantity[quantity]
        _panel(frame, n, chart, words, traces, layout, notes)
        states.append(_state(frame, chart, words))
    # Only the bottom panel carries the dates; all three share the axis.
    layout["xaxis"]["anchor"] = "y3"
    recovery = charts.recovery
    if all(c.status == "insufficient_data" for c in by_quantity.values()):
        states = [_not_yet(frame, recovery, now)]
    summary = f"The lines show {PANELS[0][1].what}, {ADDED_UP}. " + " ".join(states)
    if (start := recovery.monitoring_from) is not None:
        _mark(frame, layout, _ts(start), MONITORING_STARTS, GREY, "dot")
    if (restart := recovery.restarted_at) is not None:
        _mark(frame, layout, _ts(restart), RESTARTED, PURPLE, "dash")
        before = recovery.previous_signal_at
        notes.append(
            f"The lines restarted from zero on {clock.date(_ts(restart))}, when the "
            "deterioration flag was acknowledged or a care change was noted, so a new crossing "
            "means new evidence"
            + (f" (the crossing before it: {clock.date(_ts(before))})" if before else "")
            + "."
        )
    for _, words in PANELS[1:]:
        notes.append(f"{words.panel}: {words.what}.")
    as_of = frame.view.metrics.end
    if _ts(as_of) < now:
        replay = frame.view.as_of
        flags = (
            "today's"
            if replay is None
            else f"as they stood on {clock.date(_ts(replay) - 1)}"  # its day's end: that day
        )
        notes.append(
            f"As the lines stood at the end of the chosen period "
            f"({clock.date(_ts(as_of) - 1)}); the flags above are {flags}."
        )
    return Chart(
        "chart-monitoring",
        "Monitoring: is this client slower than their usual?",
        summary,
        _figure(traces, layout),
        tuple(notes),
    )

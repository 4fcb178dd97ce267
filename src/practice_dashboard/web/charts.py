"""Plotly figures for the client page, built from the domain's results and facts.

Figures are plain dicts (no plotly.graph_objects: validating thousands of points costs more
than the rest of the page). They travel to the browser as JSON inside
``<script type="application/json">`` and are drawn by static/js/app.js, so:

* every piece of free text (triggers, strategies, annotation labels) is HTML-escaped before
  it goes into a hover label or a chart annotation, because Plotly renders those as HTML;
* the JSON is made safe for a script element (``<``, ``>`` and ``&`` as ``\\u003c`` …), so
  ``</script>`` in a client's words cannot end the element;
* long series are downsampled for display with LTTB (``domain.downsample``), floats are
  rounded and the JSON has no whitespace, so five years of data stay well under the page
  budget. Statistics are always computed on the full series.

Colours are the Okabe-Ito palette (colour-blind safe); state is never shown by colour alone:
every colour comes with its own marker symbol and a legend word.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final

import numpy as np

from practice_dashboard.domain.downsample import lttb_indices
from practice_dashboard.domain.facts import (
    Attendance,
    HomeworkCompletion,
    SessionFact,
    Source,
    Zone,
)
from practice_dashboard.domain.flags import Thresholds
from practice_dashboard.domain.instruments import (
    INSTRUMENTS,
    Instrument,
    MeasureScore,
    reliable_change,
    score_measure,
)
from practice_dashboard.domain.metrics import MeasureProgress, weekly_means
from practice_dashboard.domain.stats import (
    SECONDS_PER_DAY,
    Trend,
    percentile,
    rolling_median,
    theil_sen,
)
from practice_dashboard.services.analytics.client_view import ClientView, EpisodeDetail
from practice_dashboard.web.vocabulary import zone_word

Figure = dict[str, Any]

# Okabe & Ito (2008), "Color Universal Design".
BLACK: Final = "#000000"
ORANGE: Final = "#E69F00"
SKY: Final = "#56B4E9"
GREEN: Final = "#009E73"
BLUE: Final = "#0072B2"
VERMILLION: Final = "#D55E00"
PURPLE: Final = "#CC79A7"
GREY: Final = "#6b7780"

#: Most points drawn per series; longer series are downsampled with LTTB.
MAX_POINTS: Final = 500
ROLLING_K: Final = 5
_WEEK: Final = 7 * SECONDS_PER_DAY
_BLOCK_DAYS: Final = 28
_TEXT_LIMIT: Final = 120
# Local wall-clock arithmetic: the result's fields are local time (its tzinfo is not used).
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_SLOT: Final = 900  # seconds

ZONE_STYLE: Final = {
    Zone.WITHIN: (GREEN, "circle"),
    Zone.HYPER: (VERMILLION, "triangle-up"),
    Zone.HYPO: (BLUE, "triangle-down"),
}
ATTENDANCE_STYLE: Final = {
    Attendance.ATTENDED: ("attended", GREEN, "circle"),
    Attendance.LATE_CANCEL: ("late cancel", ORANGE, "triangle-down"),
    Attendance.NO_SHOW: ("no-show", VERMILLION, "x"),
    Attendance.CANCELLED: ("cancelled", GREY, "square-open"),
}
_HOMEWORK_SHARE: Final = {
    HomeworkCompletion.YES: 100,
    HomeworkCompletion.PARTIAL: 50,
    HomeworkCompletion.NO: 0,
}
_ANNOTATION_KIND: Final = {
    "life_event": "Life event",
    "medication": "Medication",
    "care_change": "Change in care",
    "other": "Note",
}
_SCRIPT_SAFE: Final = (
    ("&", "\\u0026"),
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


@dataclass(frozen=True, slots=True)
class Chart:
    """One figure with the sentence that says what it shows (also its accessible name)."""

    id: str
    title: str
    summary: str
    figure: Figure
    notes: tuple[str, ...] = ()

    @property
    def json(self) -> str:
        return script_json(self.figure)


def script_json(value: Any) -> str:
    """Compact JSON that is safe inside <script type="application/json">.

    ``<``, ``>`` and ``&`` only ever occur inside JSON strings, where ``\\u003c`` etc. mean
    the same characters, so the document parses to the same value and no ``</script>`` or
    ``<!--`` can appear in the element's text.
    """
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    for char, escaped in _SCRIPT_SAFE:  # str.replace runs in C: ~1 ms for 200 KB
        text = text.replace(char, escaped)
    return text


def trace_has_data(trace: dict[str, Any]) -> bool:
    return any(v is not None for v in trace.get("y", ()) or trace.get("z", ()) or ())


def escape(text: str | None, limit: int = _TEXT_LIMIT) -> str:
    """Free text for a Plotly label: shortened, then HTML-escaped (Plotly renders HTML)."""
    if not text:
        return ""
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return plotly_text(text)


def plotly_text(text: str) -> str:
    """Escape &, < and > for Plotly's label markup. Quotes stay as they are: Plotly decodes only
    a few entities (&quot; would show literally), and these strings travel in JSON, not in an
    HTML attribute."""
    return html.escape(text, quote=False)


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


class LocalClock:
    """Epoch seconds or datetimes → the practice's local time, as Plotly date strings."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._offsets: dict[int, float] = {}

    def _offset(self, slot: int) -> float:
        # Offsets change only at transitions, and those fall on a quarter hour (UTC) in every
        # zone in use today: look the offset up once per quarter hour, not once per point.
        offset = self._offsets.get(slot)
        if offset is None:
            local = datetime.fromtimestamp(slot * _SLOT, self.tz).utcoffset()
            offset = self._offsets[slot] = local.total_seconds() if local else 0.0
        return offset

    def _local(self, ts: float) -> datetime:
        return _EPOCH + timedelta(seconds=ts + self._offset(int(ts // _SLOT)))

    def x(self, ts: float) -> str:
        return self.xs([ts])[0]

    def xs(self, ts: Sequence[float]) -> list[str]:
        """Many points at once (numpy formats them: a long course has thousands)."""
        if not ts:
            return []
        seconds = np.asarray(ts, dtype=np.float64)
        slots, where = np.unique(
            np.floor_divide(seconds, _SLOT).astype(np.int64), return_inverse=True
        )
        offsets = np.fromiter((self._offset(int(s)) for s in slots), np.float64, slots.size)
        local = np.floor(seconds + offsets[where]).astype(np.int64).astype("datetime64[s]")
        return [v.replace("T", " ") for v in np.datetime_as_string(local, unit="m").tolist()]

    def day(self, ts: float) -> str:
        return self._local(ts).strftime("%a %d %b %Y")

    def date(self, ts: float) -> str:
        """For sentences: "3 Feb 2026"."""
        d = self._local(ts)
        return f"{d.day} {d:%b %Y}"

    def when(self, ts: float) -> str:
        return self._local(ts).strftime("%a %d %b %Y %H:%M")


def _round(value: float | None, digits: int = 1) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    rounded = round(float(value), digits)
    return int(rounded) if rounded.is_integer() else rounded


def fmt_number(value: float, digits: int = 1) -> str:
    rounded = round(float(value), digits)
    return f"{rounded:.0f}" if rounded.is_integer() else f"{rounded:.{digits}f}"


def fmt_minutes(value: float) -> str:
    if value >= 120:
        return f"{value / 60:.1f} hours"
    return f"{value:.0f} minutes"


def fmt_p(p: float | None) -> str:
    """A p-value that never rounds across 0.05: 0.049 stays "p = 0.049"."""
    if p is None:
        return "p not available"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def _ts(value: datetime) -> float:
    return value.timestamp()


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


# --------------------------------------------------------------------------------------------
# Shared layout: period axis, annotations, notes
# --------------------------------------------------------------------------------------------


@dataclass
class _Frame:
    """What every time chart shares: the period, the clock and the client's annotations."""

    view: ClientView
    clock: LocalClock
    vocabulary: str
    thresholds: Thresholds
    start: float = field(init=False)
    end: float = field(init=False)

    def __post_init__(self) -> None:
        self.start = _ts(self.view.start)
        self.end = _ts(self.view.end)

    def layout(self, yaxis: dict[str, Any], **extra: Any) -> dict[str, Any]:
        shapes: list[dict[str, Any]] = []
        labels: list[dict[str, Any]] = []
        span = max(self.end - self.start, 1.0)
        for i, mark in enumerate(self.view.annotations):
            x = self.clock.x(_ts(mark.at))
            # A label centred on a mark near either end would run past the chart's edge and be
            # cut off: near the ends it hangs inwards from the mark instead.
            where = (_ts(mark.at) - self.start) / span
            kind = _ANNOTATION_KIND.get(mark.kind, "Note")
            shapes.append(
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": x,
                    "x1": x,
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": PURPLE, "width": 1.5, "dash": "dot"},
                    "layer": "above",
                }
            )
            detail = f"<br>{escape(mark.notes)}" if mark.notes else ""
            labels.append(
                {
                    "x": x,
                    "xref": "x",
                    "y": 1,
                    "yref": "paper",
                    "yanchor": "bottom",
                    "yshift": 2 + (i % 2) * 14,  # alternate rows so neighbours don't collide
                    "xanchor": "left" if where < 0.25 else "right" if where > 0.75 else "center",
                    "showarrow": False,
                    "text": escape(mark.label, 32),
                    "hovertext": (
                        f"{kind}, {self.clock.day(_ts(mark.at))}:<br>"
                        f"{escape(mark.label, 200)}{detail}"
                    ),
                    "font": {"size": 11, "color": "#7a3a62"},
                    "bgcolor": "rgba(255,255,255,0.85)",
                }
            )
        layout: dict[str, Any] = {
            "height": 340,
            "margin": {"l": 56, "r": 56, "t": 44, "b": 40},
            "font": {
                "family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
                "size": 13,
                "color": "#1f2933",
            },
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
            "hovermode": "closest",
            "hoverlabel": {"align": "left"},
            # Under the plot, below two-line date ticks; Plotly grows the margin to fit it.
            "legend": {"orientation": "h", "x": 0, "y": -0.3, "yanchor": "top"},
            "xaxis": {
                "type": "date",
                "range": [self.clock.x(self.start), self.clock.x(self.end)],
                "gridcolor": "#eef1f3",
                "zeroline": False,
            },
            "yaxis": {"gridcolor": "#eef1f3", "zeroline": False, **yaxis},
            "shapes": shapes,
            "annotations": labels,
        }
        layout.update(extra)
        return layout


def _note(layout: dict[str, Any], text: str, *, centre: bool = False) -> None:
    """A line of text drawn on the chart (downsampling, or why it is empty)."""
    layout["annotations"].append(
        {
            "xref": "paper",
            "yref": "paper",
            "x": 0.5 if centre else 1,
            "y": 0.5 if centre else 1,
            "xanchor": "center" if centre else "right",
            "yanchor": "middle" if centre else "top",
            "showarrow": False,
            "text": plotly_text(text),
            "font": {"size": 13 if centre else 11, "color": GREY},
            "bgcolor": "rgba(255,255,255,0.85)",
        }
    )


def _thin(t: Sequence[float], y: Sequence[float]) -> list[int]:
    """Indices to draw: all of them, or MAX_POINTS chosen by LTTB."""
    return lttb_indices(t, y, MAX_POINTS)


def _thinning_note(shown: int, total: int, what: str = "points") -> str | None:
    if shown >= total:
        return None
    return f"showing {shown:,} of {total:,} {what} (LTTB downsampling)"


# Hover labels are templates: Plotly formats the date and the value itself, and per-point
# text (escaped) travels as customdata. Repeating a full label per point would double the
# page for a long course of care.
_WHEN: Final = "%{x|%a %d %b %Y %H:%M}"
_DAY: Final = "%{x|%a %d %b %Y}"


def hover(template: str) -> str:
    """A hover template without the trace-name box (the legend says which trace it is)."""
    return template + "<extra></extra>"


def _short_minutes(value: float) -> str:
    return f"{value / 60:.1f} h" if value >= 120 else f"{value:.0f} min"


def _markers(name: str, color: str, symbol: str, *, size: int = 9, **extra: Any) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "markers",
        "name": name,
        "marker": {"color": color, "symbol": symbol, "size": size, "line": {"width": 0}},
        **extra,
    }


# --------------------------------------------------------------------------------------------
# a. Activation episodes
# --------------------------------------------------------------------------------------------


def _episode_hover(e: EpisodeDetail) -> list[str]:
    minutes = e.recovery_minutes
    return [
        _short_minutes(minutes) if minutes is not None else "",
        escape(e.trigger) or "—",
        escape(", ".join(e.strategies)) or "—",
    ]


def episodes_chart(frame: _Frame) -> Chart:
    clock = frame.clock
    episodes = frame.view.episodes
    layout = frame.layout({"title": {"text": "Peak intensity (0–10)"}, "range": [-0.5, 10.5]})
    traces: list[dict[str, Any]] = []
    notes: list[str] = []
    groups = (
        ("Back to baseline", True, BLUE, "circle"),
        ("Not back to baseline (or not recorded)", False, ORANGE, "diamond"),
    )
    for name, recovered, color, symbol in groups:
        group = [e for e in episodes if (e.recovery_minutes is not None) == recovered]
        if not group:
            continue
        t = [_ts(e.started_at) for e in group]
        keep = _thin(t, [float(e.peak_intensity) for e in group])
        outcome = (
            "back to baseline after %{customdata[0]}"
            if recovered
            else "not back to baseline (or not recorded)"
        )
        traces.append(
            _markers(
                name,
                color,
                symbol,
                size=10,
                x=clock.xs([t[i] for i in keep]),
                y=[group[i].peak_intensity for i in keep],
                customdata=[_episode_hover(group[i]) for i in keep],
                hovertemplate=hover(
                    f"{_WHEN}<br>Peak %{{y}}/10, {outcome}<br>Trigger: %{{customdata[1]}}"
                    "<br>Strategies: %{customdata[2]}"
                ),
            )
        )
        if note := _thinning_note(len(keep), len(group), f"“{name.lower()}” episodes"):
            notes.append(note)
    n = len(episodes)
    back = sum(1 for e in episodes if e.recovery_minutes is not None)
    if n == 0:
        summary = "No activation episodes were logged in this period."
        _note(layout, "No activation episodes in this period", centre=True)
    else:
        peak = float(np.median([e.peak_intensity for e in episodes]))
        summary = (
            f"{_plural(n, 'activation episode')} in this period: {back:,} back to baseline, "
            f"{n - back:,} not back to baseline or not recorded; median peak intensity "
            f"{fmt_number(peak)} of 10."
        )
    for note in notes:
        _note(layout, note)
    return Chart(
        "chart-episodes", "Activation episodes", summary, _figure(traces, layout), tuple(notes)
    )


# --------------------------------------------------------------------------------------------
# b. Recovery time
# --------------------------------------------------------------------------------------------


def _trend_phrase(
    trend: Trend,
    *,
    what: str,
    weeks: int,
    fitted: tuple[float, float] | None,
    unit: Callable[[float], str],
    missing: str,
    minimum: int,
) -> str:
    if trend.direction == "insufficient_data":
        return (
            f"Not enough {missing} in the last {weeks} weeks yet to judge a trend "
            f"({trend.n} of {minimum} needed)"
        )
    if trend.direction == "no_clear_trend" or fitted is None:
        return (
            f"No clear trend in {what} over the last {weeks} weeks "
            f"({trend.n} points, {fmt_p(trend.p_value)})"
        )
    first, last = fitted
    verb = "fell" if last < first else "rose"
    return (
        f"{what[0].upper()}{what[1:]} {verb} from about {unit(first)} to {unit(last)} over the "
        f"last {weeks} weeks ({trend.direction}, {fmt_p(trend.p_value)})"
    )


def _fit_line(t: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]] | None:
    """The Theil-Sen line through (t seconds, y), at its first and last time."""
    if t.size < 2:
        return None
    order = np.lexsort((y, t))
    t, y = t[order], y[order]
    days = (t - t[0]) / SECONDS_PER_DAY
    fit = theil_sen(days, y)
    if fit is None:
        return None
    # scipy's intercept convention: the fitted value at t[0] (days measured from t[0]).
    ends = [float(t[0]), float(t[-1])]
    values = [fit.intercept, fit.intercept + fit.slope_per_day * float(days[-1])]
    return ends, values


def recovery_chart(frame: _Frame) -> Chart:
    clock, view, th = frame.clock, frame.view, frame.thresholds
    facts = view.facts
    recovered = sorted(
        (_ts(e.started_at), (_ts(e.baseline_at) - _ts(e.started_at)) / 60.0)
        for e in facts.episodes
        if e.baseline_at is not None and e.baseline_at >= e.started_at
    )
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
    window_start = frame.end - th.trend_weeks * _WEEK
    tw = np.array([t for t in t_all if window_start <= t < frame.end], dtype=np.float64)
    yw = np.array([y for t, y in recovered if window_start <= t < frame.end], dtype=np.float64)
    fitted: tuple[float, float] | None = None
    if trend.direction != "insufficient_data" and (line_fit := _fit_line(tw, yw)) is not None:
        ends, values = line_fit
        fitted = (max(0.0, values[0]), max(0.0, values[1]))
        words = {"improving": "improving", "worsening": "worsening"}.get(
            trend.direction, "no clear trend"
        )
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
        if (line := _fit_line(tm, ym)) is not None:
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


# --------------------------------------------------------------------------------------------
# d. States over time
# --------------------------------------------------------------------------------------------


def states_chart(frame: _Frame) -> Chart:
    clock, vocab = frame.clock, frame.vocabulary
    obs = [
        o
        for o in sorted(frame.view.facts.observations, key=lambda o: o.observed_at)
        if frame.start <= _ts(o.observed_at) < frame.end
    ]
    t = [_ts(o.observed_at) for o in obs]
    keep = _thin(t, [float(o.activation) for o in obs]) if obs else []
    observed = " (observed)" if vocab == "polyvagal" else ""
    traces: list[dict[str, Any]] = []
    if keep:
        # A thin line in time order shows the movement between states.
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Activation, in time order",
                "x": clock.xs([t[i] for i in keep]),
                "y": [obs[i].activation for i in keep],
                "line": {"color": "#c3cad0", "width": 1},
                "hoverinfo": "skip",
                "showlegend": False,
            }
        )
    for zone in (Zone.HYPER, Zone.WITHIN, Zone.HYPO):
        color, symbol = ZONE_STYLE[zone]
        idx = [i for i in keep if obs[i].zone == zone]
        if not idx:
            continue
        word = plotly_text(zone_word(zone.value, vocab))
        extra = []
        for i in idx:
            o = obs[i]
            capacity = f"<br>capacity {o.capacity}/10" if o.capacity is not None else ""
            extra.append(capacity + ("<br>self-reported" if o.source == Source.CLIENT else ""))
        traces.append(
            _markers(
                f"{word}{observed}",
                color,
                symbol,
                size=8,
                x=clock.xs([t[i] for i in idx]),
                y=[obs[i].activation for i in idx],
                customdata=extra,
                hovertemplate=hover(
                    f"{_WHEN}<br>{word}{observed}, activation %{{y}}/10%{{customdata}}"
                ),
            )
        )
    layout = frame.layout({"title": {"text": "Activation (0–10)"}, "range": [-0.5, 10.5]})
    notes: list[str] = []
    if note := _thinning_note(len(keep), len(obs), "check-ins"):
        notes.append(note)
        _note(layout, note)
    if not obs:
        summary = "No check-ins were recorded in this period."
        _note(layout, "No check-ins in this period", centre=True)
    else:
        counts = {z: sum(1 for o in obs if o.zone == z) for z in Zone}
        shares = ", ".join(
            f"{counts[z] / len(obs):.0%} {zone_word(z.value, vocab)}"
            for z in (Zone.WITHIN, Zone.HYPER, Zone.HYPO)
        )
        days = len({clock.day(v) for v in t})
        summary = (
            f"Of {_plural(len(obs), 'check-in')} on {_plural(days, 'day')} in this period, "
            f"{shares}{observed}."
        )
    return Chart("chart-states", "States over time", summary, _figure(traces, layout), tuple(notes))


# --------------------------------------------------------------------------------------------
# e. Engagement
# --------------------------------------------------------------------------------------------


def attendance_counts(
    sessions: Sequence[SessionFact], as_of: float, th: Thresholds
) -> tuple[int, int]:
    """(attended, due) among the last due sessions before `as_of`: the attendance rate's
    numerator and denominator (DESIGN.md "engagement"), for saying "5 of the last 6"."""
    due = [
        s
        for s in sorted(sessions, key=lambda s: s.starts_at)
        if _ts(s.starts_at) < as_of
        and s.attendance in (Attendance.ATTENDED, Attendance.NO_SHOW, Attendance.LATE_CANCEL)
    ][-th.attendance_window :]
    return sum(1 for s in due if s.attendance == Attendance.ATTENDED), len(due)


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


# --------------------------------------------------------------------------------------------
# f. Measures
# --------------------------------------------------------------------------------------------


def short_name(instrument: Instrument) -> str:
    return instrument.name.split(" (")[0]


def _band_shapes(instrument: Instrument) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Published severity bands as shaded backgrounds, darker for more severe."""
    shapes: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    bands = instrument.severity_bands
    for k, band in enumerate(bands):
        # Totals are whole numbers: a band 5-9 covers 4.5..9.5 so neighbours meet.
        y0 = max(instrument.total_min, band.low - 0.5)
        y1 = min(instrument.total_max, band.high + 0.5)
        shapes.append(
            {
                "type": "rect",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": y0,
                "y1": y1,
                "fillcolor": f"rgba(31,41,51,{0.02 + 0.05 * k:.2f})",
                "line": {"width": 0},
                "layer": "below",
            }
        )
        labels.append(
            {
                "xref": "paper",
                "x": 0.995,
                "xanchor": "right",
                "yref": "y",
                "y": (y0 + y1) / 2,
                "showarrow": False,
                "text": plotly_text(band.label),
                "font": {"size": 10, "color": GREY},
            }
        )
    return shapes, labels


def _cutoff_lines(instrument: Instrument) -> list[tuple[float, str]]:
    if instrument.severity_bands:
        return []  # the bands already show where the published cutoff lies
    lines: dict[float, str] = {}
    for cutoff in (instrument.clinical_cutoff, instrument.concern_cutoff):
        if cutoff is not None:
            lines.setdefault(
                cutoff.value, f"{cutoff.label} ({cutoff.operator} {fmt_number(cutoff.value)})"
            )
    for sub in instrument.subscales:
        if sub.cutoff is not None:
            lines.setdefault(
                sub.cutoff.value,
                f"{sub.cutoff.label} ({sub.cutoff.operator} {fmt_number(sub.cutoff.value)})",
            )
    return sorted(lines.items())


def _progress_phrase(
    instrument: Instrument, progress: MeasureProgress, day: Callable[[datetime], str]
) -> str:
    name = short_name(instrument)
    if progress.scale is not None:
        sub = instrument.subscale(progress.scale)
        name = sub.name if sub is not None else progress.scale
    base, last = progress.baseline, progress.latest

    def value(total: float | None, severity: str | None) -> str:
        if total is None:
            return "—"
        band = next(
            (b.label.lower() for b in instrument.severity_bands if b.code == severity), None
        )
        return f"{fmt_number(total)} ({band})" if band else fmt_number(total)

    if progress.change is None:
        return (
            f"one {name} score so far, {value(last.total, last.severity)}: "
            "change needs a second administration"
        )
    if progress.rci is None:
        verdict = "no Reliable Change Index (no reliability data for it)"
    else:
        verdict = {
            "improved": "reliable improvement",
            "deteriorated": "reliable deterioration",
        }.get(progress.reliable_change or "", "no reliable change")
        verdict += f" (RCI {progress.rci:+.1f})"
    return (
        f"{name} went from {value(base.total, base.severity)} on {day(base.administered_at)} "
        f"to {value(last.total, last.severity)} on {day(last.administered_at)}: {verdict}"
    )


def measure_charts(frame: _Frame) -> list[Chart]:
    clock, view = frame.clock, frame.view
    scored: dict[str, list[tuple[float, MeasureScore]]] = {}
    for m in sorted(view.facts.measures, key=lambda m: m.administered_at):
        if m.instrument in INSTRUMENTS:
            score = score_measure(m)
            if score.valid:
                scored.setdefault(m.instrument, []).append((_ts(m.administered_at), score))
    charts: list[Chart] = []
    for code, instrument in INSTRUMENTS.items():  # the registry's order: PHQ-9 first
        rows = scored.get(code)
        if not rows:
            continue
        series: list[tuple[str | None, str, str, list[tuple[float, float, str | None]]]] = []
        if instrument.has_total:
            points = [(t, s.total, s.severity) for t, s in rows if s.total is not None]
            series.append((None, "Total", BLUE, points))
        else:
            palette = (BLUE, ORANGE, GREEN)
            for k, sub in enumerate(instrument.subscales):
                points = [
                    (t, v, None) for t, s in rows if (v := s.subscales.get(sub.code)) is not None
                ]
                if points:
                    series.append((sub.code, sub.name, palette[k % 3], points))
        traces: list[dict[str, Any]] = []
        shown_legend: set[str] = set()
        symbols = ("circle", "square", "triangle-up")
        for k, (scale, name, color, points) in enumerate(series):
            shown = [p for p in points if frame.start <= p[0] < frame.end]
            bands = {b.code: b.label for b in instrument.severity_bands}
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": name,
                    "x": clock.xs([t for t, _, _ in shown]),
                    "y": [_round(v) for _, v, _ in shown],
                    "line": {"color": color, "width": 2},
                    "marker": {"symbol": symbols[k % 3], "size": 8, "color": color},
                    "hoverinfo": "text",
                    "hovertext": [
                        f"{clock.day(t)}<br>{plotly_text(name)} {fmt_number(v)}"
                        + (f" ({plotly_text(bands[sev])})" if sev in bands else "")
                        for t, v, sev in shown
                    ],
                }
            )
            traces.extend(
                _reliable_change_markers(frame, instrument, scale, points, name, shown_legend)
            )
        layout = frame.layout(
            {
                "title": {"text": "Score"},
                "range": [instrument.total_min - 0.5, instrument.total_max + 0.5],
            }
        )
        shapes, labels = _band_shapes(instrument)
        layout["shapes"] = shapes + layout["shapes"]
        layout["annotations"] = labels + layout["annotations"]
        for value, label in _cutoff_lines(instrument):
            layout["shapes"].append(
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "yref": "y",
                    "y0": value,
                    "y1": value,
                    "line": {"color": GREY, "width": 1.5, "dash": "dash"},
                    "layer": "below",
                }
            )
            layout["annotations"].append(
                {
                    "xref": "paper",
                    "x": 0.995,
                    "xanchor": "right",
                    "yref": "y",
                    "y": value,
                    "yanchor": "bottom",
                    "showarrow": False,
                    "text": plotly_text(label),
                    "font": {"size": 10, "color": GREY},
                }
            )
        progress = [p for p in view.metrics.measures if p.instrument == code]
        if progress:
            summary = "; ".join(
                _progress_phrase(instrument, p, lambda d: clock.date(_ts(d))) for p in progress
            )
            summary = (
                f"{short_name(instrument)}: {summary}."
                if not instrument.has_total
                else (summary[0].upper() + summary[1:] + ".")
            )
        else:
            summary = f"No valid {short_name(instrument)} administration before the period's end."
        if not any(trace_has_data(t) for t in traces):
            _note(layout, f"No {short_name(instrument)} in this period", centre=True)
        charts.append(
            Chart(
                f"chart-measure-{code}",
                instrument.name,
                summary,
                _figure(traces, layout),
            )
        )
    if not charts:
        layout = frame.layout({"title": {"text": "Score"}})
        _note(layout, "No measures recorded yet", centre=True)
        charts.append(
            Chart(
                "chart-measures",
                "Measures",
                "No standardized measures have been recorded for this client yet.",
                _figure([], layout),
            )
        )
    return charts


def _reliable_change_markers(
    frame: _Frame,
    instrument: Instrument,
    scale: str | None,
    points: Sequence[tuple[float, float, str | None]],
    name: str,
    shown_legend: set[str],
) -> list[dict[str, Any]]:
    """Rings around administrations whose change from the first one is reliable (RCI)."""
    reliability = (
        instrument.reliability
        if scale is None
        else getattr(instrument.subscale(scale), "reliability", None)
    )
    if reliability is None or len(points) < 2:
        return []
    t0, v0, _ = points[0]
    found: dict[str, list[tuple[float, float, float]]] = {"improved": [], "deteriorated": []}
    for t, v, _ in points[1:]:
        if not frame.start <= t < frame.end:
            continue
        rc = reliable_change(instrument, v0, v, scale=scale)
        if rc.reliable_change in found:
            found[rc.reliable_change].append((t, v, rc.rci))
    styles = {
        "improved": ("Reliable improvement since first", GREEN, "star-diamond-open"),
        "deteriorated": ("Reliable deterioration since first", VERMILLION, "x-open"),
    }
    traces = []
    for category, hits in found.items():
        if not hits:
            continue
        label, color, symbol = styles[category]
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": label,
                # One legend entry per kind, however many scales share the chart.
                "legendgroup": category,
                "showlegend": category not in shown_legend,
                "x": frame.clock.xs([t for t, _, _ in hits]),
                "y": [_round(v) for _, v, _ in hits],
                "marker": {
                    "symbol": symbol,
                    "size": 18,
                    "color": color,
                    "line": {"width": 2, "color": color},
                },
                "hoverinfo": "text",
                "hovertext": [
                    f"{frame.clock.day(t)}<br>{plotly_text(name)}: {label.lower()}"
                    f"<br>{frame.clock.date(t0)}: {fmt_number(v0)} → {fmt_number(v)}, "
                    f"RCI {rci:+.1f}"
                    for t, v, rci in hits
                ],
            }
        )
        shown_legend.add(category)
    return traces


# --------------------------------------------------------------------------------------------
# All charts
# --------------------------------------------------------------------------------------------


def _figure(traces: list[dict[str, Any]], layout: dict[str, Any]) -> Figure:
    # Every axis grows the margins to fit its tick labels and title, so nothing is clipped at
    # the chart's edges whatever the screen width (a phone's narrow charts included).
    for key, axis in layout.items():
        if key.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            axis.setdefault("automargin", True)
    return {"data": traces, "layout": layout, "config": {"displaylogo": False}}


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
        capacity_chart(frame, obs),
        states_chart(frame),
        engagement_chart(frame, _ts(now)),
        *measure_charts(frame),
    ]

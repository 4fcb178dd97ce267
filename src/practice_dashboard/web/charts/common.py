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

This module holds what every chart shares: palette, the figure and its JSON, formatting,
the local clock and the period frame (axis, annotations, notes)."""

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
    HOMEWORK_SCORE,
    Attendance,
    Zone,
)
from practice_dashboard.domain.flags import Thresholds
from practice_dashboard.domain.labels import ANNOTATION_KIND_WORDS, ATTENDANCE_WORDS, duration_words
from practice_dashboard.domain.stats import (
    SECONDS_PER_DAY,
    Trend,
)
from practice_dashboard.services.analytics.client_view import ClientView
from practice_dashboard.web.charts.legend import LegendEntry, legend_entries

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

#: A chart's margins (px), wide enough for its axes' labels at any width from a phone's up;
#: the right one for a right-hand axis.
MARGIN: Final = {"l": 56, "r": 56, "t": 44, "b": 60}
# The right margin of a chart without a right-hand axis: room for the last date tick's half
# (29 px on a phone, measured; more for a wider font).
_NO_RIGHT_AXIS: Final = 36
# Characters of a note in the middle of a chart that fit on one line of a phone's chart.
_NOTE_LINE: Final = 30
#: Most points drawn per series; longer series are downsampled with LTTB.
MAX_POINTS: Final = 500
_WEEK: Final = 7 * SECONDS_PER_DAY
_BLOCK_DAYS: Final = 28
_TEXT_LIMIT: Final = 120
# Local wall-clock arithmetic: the result's fields are local time (its tzinfo is not used).
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_SLOT: Final = 900  # seconds
# Times whose local clock (within a day of UTC) falls in years 2 to 9999: there the standard
# library's datetime holds it and a four-digit year is what numpy writes too.
_PLAIN_SECONDS: Final = (
    datetime(2, 1, 1, tzinfo=UTC).timestamp(),
    datetime(9999, 12, 30, tzinfo=UTC).timestamp(),
)

ZONE_STYLE: Final = {
    Zone.WITHIN: (GREEN, "circle"),
    Zone.HYPER: (VERMILLION, "triangle-up"),
    Zone.HYPO: (BLUE, "triangle-down"),
}
ATTENDANCE_STYLE: Final = {
    Attendance.ATTENDED: (ATTENDANCE_WORDS["attended"], GREEN, "circle"),
    Attendance.LATE_CANCEL: (ATTENDANCE_WORDS["late_cancel"], ORANGE, "triangle-down"),
    Attendance.NO_SHOW: (ATTENDANCE_WORDS["no_show"], VERMILLION, "x"),
    Attendance.CANCELLED: (ATTENDANCE_WORDS["cancelled"], GREY, "square-open"),
}
_HOMEWORK_SHARE: Final = {c: round(100 * score) for c, score in HOMEWORK_SCORE.items()}
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

    @property
    def legend(self) -> tuple[LegendEntry, ...]:
        return legend_entries(self.figure)


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
            try:
                local = datetime.fromtimestamp(slot * _SLOT, self.tz).utcoffset()
            except (OverflowError, OSError, ValueError):  # year 1 or 9999: no local time
                local = None
            offset = self._offsets[slot] = local.total_seconds() if local else 0.0
        return offset

    def _local(self, ts: float) -> datetime:
        try:
            return _EPOCH + timedelta(seconds=ts + self._offset(int(ts // _SLOT)))
        except OverflowError:  # a stored year-1 time west of UTC: shown on UTC's clock
            return _EPOCH + timedelta(seconds=ts)

    def x(self, ts: float) -> str:
        """One time, exactly as ``xs`` writes it, without numpy's cost per call (a chart's
        range and marks are a few dozen lone times a page)."""
        if not _PLAIN_SECONDS[0] < ts < _PLAIN_SECONDS[1]:  # NaN, or years numpy writes alone
            return self.xs([ts])[0]
        d = _EPOCH + timedelta(seconds=math.floor(ts + self._offset(int(ts // _SLOT))))
        return f"{d.year:04d}-{d.month:02d}-{d.day:02d} {d.hour:02d}:{d.minute:02d}"

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

    def days(self, ts: Sequence[float]) -> int:
        """How many local calendar days the times fall on (the count of distinct ``day``s,
        without a date string per point)."""
        return len({self._local(v).date() for v in ts})

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
    """A duration in a chart's legend or summary sentence, in long words."""
    return duration_words(value, long=True)


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
            kind = ANNOTATION_KIND_WORDS.get(mark.kind, "Note")
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
            # The margins the axes' labels need (automargin would grow them, then Plotly draws
            # the chart a second time): two-line date ticks, tilted on a phone, take 59 px.
            "margin": dict(MARGIN),
            "font": {
                "family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
                "size": 13,
                "color": "#1f2933",
            },
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
            "hovermode": "closest",
            "hoverlabel": {"align": "left"},
            # The legend is HTML under the chart (``legend``), not Plotly's.
            "showlegend": False,
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
        if not any(
            key.startswith("yaxis") and isinstance(axis, dict) and axis.get("side") == "right"
            for key, axis in layout.items()
        ):
            # A new dict: a chart may have passed a shared one (``MARGIN | {...}``).
            layout["margin"] = {**layout["margin"], "r": _NO_RIGHT_AXIS}
        return layout


def _note(layout: dict[str, Any], text: str, *, centre: bool = False) -> None:
    """A line of text drawn on the chart (downsampling, or why it is empty). A long note in
    the middle of an empty chart takes two lines, so it fits a phone's narrow chart."""
    markup = plotly_text(text)
    if centre and len(text) > _NOTE_LINE:
        middle = len(markup) // 2
        spaces = [i for i, c in enumerate(markup) if c == " "]
        if spaces:
            cut = min(spaces, key=lambda i: abs(i - middle))
            markup = f"{markup[:cut]}<br>{markup[cut + 1 :]}"
    layout["annotations"].append(
        {
            "xref": "paper",
            "yref": "paper",
            "x": 0.5 if centre else 1,
            "y": 0.5 if centre else 1,
            "xanchor": "center" if centre else "right",
            "yanchor": "middle" if centre else "top",
            "showarrow": False,
            "text": markup,
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


#: Below a chart with any client-reported point: how those points are told apart.
SELF_REPORT_NOTE = "Open markers are the client's own reports (self-report)."


def _markers(
    name: str,
    color: str,
    symbol: str,
    *,
    size: int = 9,
    self_reported: list[bool] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A marker trace; points the client reported themselves are drawn open (outline only)."""
    marker: dict[str, Any] = {"color": color, "symbol": symbol, "size": size, "line": {"width": 0}}
    if self_reported and any(self_reported):
        marker["symbol"] = [f"{symbol}-open" if s else symbol for s in self_reported]
        marker["line"] = {"color": color, "width": [2 if s else 0 for s in self_reported]}
    return {"type": "scatter", "mode": "markers", "name": name, "marker": marker, **extra}


def _figure(traces: list[dict[str, Any]], layout: dict[str, Any]) -> Figure:
    # Every axis grows the margins to fit its tick labels and title, so nothing is clipped at
    # the chart's edges whatever the screen width (a phone's narrow charts included). Those
    # margins keep every label inside the chart, so Plotly's default check for labels past
    # its edge ("hide past div": a getBoundingClientRect, so a forced layout, per label) is
    # skipped: it was 35-40 ms of a warm client page's ~250 ms of chart drawing in Chromium.
    for key, axis in layout.items():
        if key.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            axis.setdefault("automargin", True)
            axis.setdefault("ticklabeloverflow", "allow")
    return {"data": traces, "layout": layout, "config": {"displaylogo": False}}


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

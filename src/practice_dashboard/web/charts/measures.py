"""The measure charts: one per instrument, with severity bands, cutoffs and reliable change."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from practice_dashboard.domain.conventions import change_rule, change_verdict, convention_name
from practice_dashboard.domain.instruments import (
    INSTRUMENTS,
    Instrument,
    MeasureScore,
    score_of,
)
from practice_dashboard.domain.labels import (
    RELIABLE_CHANGE_WORDS,
    latest_remarks,
    verdict_remarks,
)
from practice_dashboard.domain.metrics import MeasureProgress
from practice_dashboard.web.charts.common import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    VERMILLION,
    Chart,
    _figure,
    _Frame,
    _note,
    _round,
    _ts,
    fmt_number,
    plotly_text,
    trace_has_data,
)

# --------------------------------------------------------------------------------------------
# f. Measures
# --------------------------------------------------------------------------------------------


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
    name = instrument.short_name
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
    if progress.reliable_change is None:
        verdict = "no Reliable Change Index (no reliability data for it)"
    else:
        verdict = RELIABLE_CHANGE_WORDS[progress.reliable_change]
        if progress.convention == "jacobson_truax" and progress.rci is not None:
            verdict += f" (RCI {progress.rci:+.1f})"
        elif progress.convention is not None:
            verdict += f" ({convention_name(progress.convention)})"
    return (
        f"{name} went from {value(base.total, base.severity)} on {day(base.administered_at)} "
        f"to {value(last.total, last.severity)} on {day(last.administered_at)}: {verdict}"
    )


def _measure_notes(instrument: Instrument, progress: MeasureProgress) -> str:
    """The latest administration's own signals and how change is judged, in one line."""
    remarks = (*latest_remarks(progress), *verdict_remarks(progress))
    if not remarks:
        return ""
    name = instrument.short_name if progress.scale is None else instrument.label(progress.scale)
    return f"{name}: {'; '.join(remarks)}."


def measure_charts(frame: _Frame) -> list[Chart]:
    clock, view = frame.clock, frame.view
    scored: dict[str, list[tuple[float, MeasureScore]]] = {}
    for m in sorted(view.facts.measures, key=lambda m: m.administered_at):
        if m.instrument in INSTRUMENTS:
            score = score_of(m)
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
        notes = tuple(_measure_notes(instrument, p) for p in progress)
        if progress:
            summary = "; ".join(
                _progress_phrase(instrument, p, lambda d: clock.date(_ts(d))) for p in progress
            )
            summary = (
                f"{instrument.short_name}: {summary}."
                if not instrument.has_total
                else (summary[0].upper() + summary[1:] + ".")
            )
        else:
            summary = f"No valid {instrument.short_name} administration before the period's end."
        if not any(trace_has_data(t) for t in traces):
            _note(layout, f"No {instrument.short_name} in this period", centre=True)
        charts.append(
            Chart(
                f"chart-measure-{code}",
                instrument.name,
                summary,
                _figure(traces, layout),
                notes=tuple(n for n in notes if n),
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
    convention = frame.thresholds.convention_for(instrument.code)
    if change_rule(instrument, convention, scale=scale) is None or len(points) < 2:
        return []
    t0, v0, _ = points[0]
    found: dict[str, list[tuple[float, float, float | None]]] = {
        "improved": [],
        "deteriorated": [],
    }
    for t, v, _ in points[1:]:
        if not frame.start <= t < frame.end:
            continue
        verdict = change_verdict(instrument, v0, v, convention, scale=scale)
        if verdict is not None and verdict.reliable_change in found:
            found[verdict.reliable_change].append((t, v, verdict.rci))
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
                    f"<br>{frame.clock.date(t0)}: {fmt_number(v0)} → {fmt_number(v)}"
                    + (f", RCI {rci:+.1f}" if rci is not None else "")
                    for t, v, rci in hits
                ],
            }
        )
        shown_legend.add(category)
    return traces

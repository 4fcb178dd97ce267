"""The print view: a progress summary or a supervision packet as one HTML document.

One document used twice: served as a page (``/clients/{id}/summary``) and written with its
files into a temporary folder for Chromium to print (``services.reports.pdf``). Its charts are
the client page's figures, fixed to the width of an A4 page and drawn statically by
static/js/app.js. The API and the CLI print through :data:`print_renderer` (the API gets it
handed in by ``create_app``; see ``services.reports.printing``), so every summary looks the
same wherever it was made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from markupsafe import Markup

from practice_dashboard.config import Settings
from practice_dashboard.domain.flags import Thresholds
from practice_dashboard.domain.labels import (
    ANNOTATION_KIND_WORDS,
    RELIABLE_CHANGE_WORDS,
    STATUS_WORDS,
    TREND_WORDS,
    evidence_label,
)
from practice_dashboard.domain.stats import Trend
from practice_dashboard.domain.windows import ChangeRow
from practice_dashboard.services.reports import supervision_packet as packets
from practice_dashboard.services.reports.progress_summary import (
    ClientFigures,
    FlagLine,
    MeasureRow,
    ProgressSummary,
)
from practice_dashboard.services.reports.supervision_packet import SupervisionPacket
from practice_dashboard.web.charts import Chart, build_charts, fmt_number, fmt_p
from practice_dashboard.web.templating import (
    PLOTLY_JS,
    STATIC_DIR,
    asset_url,
    local_date,
    local_time,
    minutes,
    percent,
    plotly_url,
    templates,
)

#: Plotly width in CSS pixels: the A4 text width (210 mm - 2 x 14 mm margins = 182 mm).
PRINT_CHART_WIDTH: Final = 680
#: The files a printed document links, by the name it links them under.
PRINT_ASSETS: Final[Mapping[str, Path]] = {
    "print.css": STATIC_DIR / "css" / "print.css",
    "app.js": STATIC_DIR / "js" / "app.js",
    PLOTLY_JS.name: PLOTLY_JS,
}
OFFLINE_LINKS: Final = {"css": "print.css", "app_js": "app.js", "plotly": PLOTLY_JS.name}

_COMPARISON_WORDS: Final = {
    # key -> (better, worse) words; lower is better for both compared figures
    "recovery": ("shorter than baseline", "longer than baseline"),
    "activation": ("lower than baseline", "higher than baseline"),
}
_RELIABLE_CSS: Final = {"improved": "improved", "deteriorated": "worsening"}
_CSS_PLAIN: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.:()"
)
_FONTS: Final = '"DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif'


# --------------------------------------------------------------------------------------------
# Words and numbers as printed
# --------------------------------------------------------------------------------------------


def css_string(text: str) -> str:
    """A CSS string literal for any text, safe inside <style>: all but plain characters are
    written as CSS hex escapes, so no quote, backslash or ``</style>`` can break out. Each
    escape ends with the space that CSS consumes as its terminator."""
    body = "".join(ch if ch in _CSS_PLAIN else f"\\{ord(ch):06x} " for ch in text)
    return f'"{body}"'


def _value(row: ChangeRow, value: float | None) -> str:
    if value is None:
        return "—"
    if row.unit == "minutes":
        return minutes(value)
    if row.unit == "share":
        return percent(value)
    return f"{fmt_number(value)}/10"


def _trend(trend: Trend | None, unit: str, min_points: int) -> dict[str, Any] | None:
    """A trend verdict in words, with the slope, p-value and number of points behind it."""
    if trend is None:
        return None
    words = TREND_WORDS.get(trend.direction, trend.direction)
    css = trend.direction if trend.direction in ("improving", "worsening") else None
    if trend.direction == "insufficient_data":
        return {
            "word": words,
            "detail": f"{trend.n} of {min_points} points needed",
            "css": None,
            "arrow": "",
        }
    per, digits = ("min/week", 1) if unit == "minutes" else ("points/week", 2)
    parts: list[str] = []
    if trend.slope_per_week is not None:
        parts.append(f"{signed(trend.slope_per_week, digits)} {per}")
    parts += [fmt_p(trend.p_value), f"{trend.n} points"]
    slope = trend.slope_per_week or 0.0
    arrow = "" if css is None else ("↓" if slope < 0 else "↑")
    return {"word": words, "detail": ", ".join(parts), "css": css, "arrow": arrow}


def change_line(row: ChangeRow, th: Thresholds) -> dict[str, Any]:
    """One figure as the change table prints it."""
    baseline = _value(row, row.baseline)
    if row.baseline is not None and row.baseline_low is not None and row.baseline_high is not None:
        baseline += f" (usual {_value(row, row.baseline_low)}–{_value(row, row.baseline_high)})"
    comparison: dict[str, Any]
    if row.comparison is None:
        comparison = {"word": "context only", "css": "muted", "arrow": ""}
    elif row.comparison == "insufficient_data":
        if row.baseline is None:
            why = (
                f"no baseline yet ({row.baseline_n} of {th.baseline_min_values} values "
                "early in care)"
            )
        else:
            why = "no values in the last 28 days"
        comparison = {"word": why, "css": "muted", "arrow": ""}
    else:
        better, worse = _COMPARISON_WORDS.get(row.key, ("better than baseline", "worse"))
        verdicts: dict[str, dict[str, Any]] = {
            "better": {"word": better, "css": "better", "arrow": "↓"},
            "worse": {"word": worse, "css": "worse", "arrow": "↑"},
            "within_normal_range": {"word": "close to baseline", "css": None, "arrow": "≈"},
        }
        comparison = verdicts[row.comparison]
    return {
        "key": row.key,
        "label": row.label,
        "definition": row.definition,
        "baseline": baseline,
        "baseline_n": row.baseline_n,
        "period": _value(row, row.period),
        "period_n": row.period_n,
        "recent": _value(row, row.recent),
        "recent_n": row.recent_n,
        "comparison": comparison,
        "trend": _trend(row.trend, row.unit, th.trend_min_points),
    }


def _score(total: float | None, band: str | None) -> str:
    if total is None:
        return "—"
    return f"{fmt_number(total)} ({band.lower()})" if band else fmt_number(total)


def measure_line(row: MeasureRow, tz: Any) -> dict[str, Any]:
    key = row.reliable_change or ""
    css, verdict = _RELIABLE_CSS.get(key), RELIABLE_CHANGE_WORDS.get(key, "—")
    if row.change is None:
        verdict = "one administration so far"
    elif row.rci is None:
        verdict = "no RCI (no reliability data)"
    significant = "—"
    if row.change is not None and row.rci is not None and row.clinically_significant is not None:
        significant = "yes" if row.clinically_significant else "no"
    notes = list(row.verdict_remarks)
    if row.anchor is not None:
        notes.append(f"published anchor {fmt_number(row.anchor)}")
    if row.cutoff:
        notes.append(f"cutoff: {row.cutoff}")
    if row.reliability_note:
        notes.append(row.reliability_note)
    return {
        "instrument": row.instrument,
        "name": row.name,
        "direction": "lower is better" if row.lower_is_better else "higher is better",
        "baseline": _score(row.baseline.total, row.baseline_band),
        "baseline_at": local_date(row.baseline.administered_at, tz),
        "latest": _score(row.latest.total, row.latest_band),
        "latest_at": local_date(row.latest.administered_at, tz),
        "latest_remarks": row.latest_remarks,
        "change": "—" if row.change is None else signed(row.change),
        "rci": "—" if row.rci is None else signed(row.rci, 2),
        "verdict": verdict,
        "css": css,
        "significant": significant,
        "in_period": row.administrations_in_period,
        "notes": notes,
    }


def signed(value: float, digits: int = 1) -> str:
    """+2.5, −3, 0: the sign always shown (a true minus sign), never "−0"."""
    text = fmt_number(abs(value), digits)
    if float(text) == 0:
        return "0"
    return ("+" if value > 0 else "−") + text


def _lower_first(text: str) -> str:
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def _evidence(name: str, value: Any) -> tuple[str, str]:
    label = evidence_label(name)
    if value is None:
        return label, "—"
    if isinstance(value, float):
        return label, fmt_number(value, 2)
    return label, str(value)


def flag_line(flag: FlagLine, tz: Any) -> dict[str, Any]:
    reasons = list(flag.reasons)
    return {
        "code": flag.code,
        "name": flag.name,
        "level": flag.level,
        # one reason reads inline: "Check-in suggested, because the latest …"
        "because": _lower_first(reasons[0]) if len(reasons) == 1 else None,
        "reasons": reasons,
        "evidence": [_evidence(k, v) for k, v in flag.evidence],
        "suggestion": flag.suggestion,
        "acknowledged": (
            {
                "by": flag.acknowledged_by,
                "at": local_time(flag.acknowledged_at, tz),
                "note": flag.acknowledgement_note,
            }
            if flag.acknowledged
            else None
        ),
    }


def attendance_lines(f: ClientFigures) -> list[dict[str, str | None]]:
    a = f.attendance
    plural = "s" if a.cadence_days != 1 else ""
    return [
        {
            "key": "attendance",
            "label": "Attendance in the period",
            "value": percent(a.rate),
            "detail": (
                f"attended {a.attended} of {a.due} due sessions"
                + (f"; {a.cancelled} cancelled in good time (not due)" if a.cancelled else "")
                if a.due
                else "no sessions were due in this period"
            ),
        },
        {
            "key": "missed",
            "label": "Missed sessions",
            "value": str(a.no_show + a.late_cancel),
            "detail": f"{a.no_show} no-show, {a.late_cancel} late cancel"
            + (f"; {a.not_recorded} past sessions not recorded" if a.not_recorded else ""),
        },
        {
            "key": "engagement",
            "label": "Engagement rating (mean)",
            "value": "—" if a.engagement_mean is None else f"{fmt_number(a.engagement_mean)}/10",
            "detail": (
                f"practitioner-rated at {a.engagement_n} sessions"
                if a.engagement_n
                else "no ratings in this period"
            ),
        },
        {
            "key": "homework",
            "label": "Homework reported done",
            "value": percent(a.homework_rate),
            "detail": (
                f"at {a.homework_n} sessions (yes 1, partly ½, no 0)"
                if a.homework_n
                else "no homework reported in this period"
            ),
        },
        {
            "key": "recent_attendance",
            "label": "At the period's end: last due sessions",
            "value": percent(a.recent_rate),
            "detail": (
                f"attendance over the last {a.recent_due} due sessions"
                if a.recent_due
                else "no sessions had been due"
            ),
        },
        {
            "key": "days_since_last_attended",
            "label": "At the period's end: since last attended",
            "value": (
                "—"
                if a.days_since_last_attended is None
                else f"{a.days_since_last_attended} day"
                + ("s" if a.days_since_last_attended != 1 else "")
            ),
            "detail": f"usual rhythm: every {a.cadence_days} day{plural}",
        },
    ]


def flag_chips(flags: tuple[FlagLine, ...]) -> list[dict[str, Any]]:
    return [
        {"name": f.name, "level": f.level, "acknowledged": f.acknowledged, "reasons": f.reasons}
        for f in flags
    ]


def packet_row(f: ClientFigures, th: Thresholds, tz: Any) -> dict[str, Any]:
    rec = change_line(f.row("recovery"), th)
    return {
        "client_id": str(f.client.id),
        "name": f.client.display_name,
        "ref": f.client.external_ref,
        "status": STATUS_WORDS.get(f.client.status.value, f.client.status.value),
        "attendance": percent(f.attendance.rate),
        "attendance_detail": (
            f"{f.attendance.attended} of {f.attendance.due}" if f.attendance.due else "none due"
        ),
        "recovery": rec,
        "recognition": _trend(f.metrics.recognition.trend, "minutes", th.trend_min_points),
        "capacity": _trend(f.metrics.capacity.trend, "rating", th.trend_min_points),
        "time_in_window": percent(f.metrics.capacity.time_in_window),
        "measures": [packets.measure_brief(m) for m in f.measures],
        "flags": [flag_line(x, tz) for x in f.flags],
    }


# --------------------------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------------------------


def _legend_entries(figure: dict[str, Any]) -> int:
    traces = [t for t in figure.get("data", ()) if t.get("showlegend", True)]
    shapes = [s for s in figure["layout"].get("shapes", ()) if s.get("showlegend")]
    return len(traces) + len(shapes)


def _print_chart(chart: Chart) -> Chart:
    """The client page's chart at the width of an A4 page, drawn statically (no hover, no
    resize: a printed page never changes). At this width the legend wraps to a line per
    entry, so the chart grows with it instead of squeezing the plot."""
    layout = chart.figure["layout"]
    height = max(int(layout.get("height", 340)), 290 + 22 * _legend_entries(chart.figure))
    layout = {**layout, "width": PRINT_CHART_WIDTH, "height": height, "autosize": False}
    config = {**chart.figure.get("config", {}), "staticPlot": True, "responsive": False}
    return dataclasses.replace(chart, figure={**chart.figure, "layout": layout, "config": config})


def _page_css(
    top_left: str, top_right: str, bottom_left: str, *, landscape: bool = False
) -> Markup:
    """The running header and footer on every printed page (CSS page-margin boxes). Margin
    boxes inherit nothing from the body, hence the font on each."""
    box = f"font-family: {_FONTS}; color: #5b6770;"
    rules = [
        f"@top-left {{ content: {css_string(top_left)}; {box} font-size: 8pt; "
        "vertical-align: bottom; }",
        f"@top-right {{ content: {css_string(top_right)}; {box} font-size: 8pt; "
        "vertical-align: bottom; text-align: right; }",
        f"@bottom-left {{ content: {css_string(bottom_left)}; {box} font-size: 7.5pt; "
        "vertical-align: top; }",
        '@bottom-right { content: "Page " counter(page) " of " counter(pages); '
        f"{box} font-size: 8pt; vertical-align: top; text-align: right; }}",
    ]
    size = "size: A4 landscape; " if landscape else ""
    # Every piece is ours or went through css_string: safe to mark for the template.
    return Markup("@page { " + size + " ".join(rules) + " }")


def client_label(summary: ProgressSummary) -> str:
    """How every page names the client: display name, and the reference when there is one."""
    client = summary.client
    return client.display_name + (f" (ref. {client.external_ref})" if client.external_ref else "")


def summary_document(
    summary: ProgressSummary,
    *,
    settings: Settings,
    vocabulary: str,
    now: datetime,
    offline: bool,
) -> str:
    """The print view as one HTML document (offline: linking files beside it by name)."""
    tz = settings.timezone
    f = summary.figures
    period = summary.period
    charts = [
        _print_chart(c)
        for c in build_charts(
            summary.view, vocabulary=vocabulary, tz=tz, thresholds=settings.thresholds, now=now
        )
    ]
    query = urlencode({"start": period.start_date.isoformat(), "end": period.end_date.isoformat()})
    client_path = f"/clients/{summary.client.id}"
    label = client_label(summary)
    base = f.baseline_period
    context: dict[str, Any] = {
        "offline": offline,
        "assets": OFFLINE_LINKS
        if offline
        else {
            "css": asset_url("css/print.css"),
            "app_js": asset_url("js/app.js"),
            "plotly": plotly_url(),
        },
        "page_css": _page_css(
            f"Progress summary · {label}",
            f"{period.label}",
            f"Client ID {summary.client.id} · Confidential: clinical information",
        ),
        "tz": tz,
        "practice_name": settings.practice_name,
        "summary": summary,
        "client": summary.client,
        "client_label": label,
        "status": STATUS_WORDS.get(summary.client.status.value, summary.client.status.value),
        "figures": f,
        "period": period,
        "generated_at": local_time(summary.generated_at, tz),
        "attendance": attendance_lines(f),
        "change": [change_line(r, settings.thresholds) for r in f.change],
        "baseline_period": (
            f"{local_date(base[0], tz)} to {local_date(base[1], tz)}" if base else None
        ),
        "trend_weeks": settings.thresholds.trend_weeks,
        "trend_min_points": settings.thresholds.trend_min_points,
        "recent_label": (
            f"{local_date(f.metrics.start, tz)} to "
            f"{local_date(f.metrics.end - timedelta(microseconds=1), tz)}"
        ),
        "flags": [flag_line(x, tz) for x in f.flags],
        "flags_as_of": local_date(min(period.end, now), tz),
        "charts": charts,
        "measures": [measure_line(m, tz) for m in f.measures],
        "annotations": [
            {
                "at": local_date(a.at, tz),
                "kind": ANNOTATION_KIND_WORDS.get(a.kind, "Note"),
                "label": a.label,
                "notes": a.notes,
            }
            for a in summary.annotations
        ],
        "links": {
            "client": client_path,
            "pdf": f"{client_path}/summary.pdf?{query}",
            "form": f"{client_path}/summary",
        },
    }
    return templates.get_template("report_client.html").render(context)


def packet_document(
    packet: SupervisionPacket, *, settings: Settings, now: datetime, offline: bool
) -> str:
    tz = settings.timezone
    period = packet.period
    scope = packet.supervisee.full_name if packet.supervisee else "all supervisees"
    query = {"start": period.start_date.isoformat(), "end": period.end_date.isoformat()}
    if packet.supervisee:
        query["supervisee"] = str(packet.supervisee.id)
    sections: list[dict[str, Any]] = [
        {
            "id": str(s.practitioner_id),
            "name": s.full_name,
            "role": s.role,
            "load": s.load,
            "rows": [packet_row(c, settings.thresholds, tz) for c in s.clients],
        }
        for s in packet.practitioners
    ]
    context: dict[str, Any] = {
        "offline": offline,
        "assets": OFFLINE_LINKS
        if offline
        else {
            "css": asset_url("css/print.css"),
            "app_js": asset_url("js/app.js"),
            "plotly": plotly_url(),
        },
        "page_css": _page_css(
            f"Supervision packet · {scope}",
            period.label,
            f"Prepared for {packet.supervisor.full_name} · Confidential: clinical information",
            landscape=True,
        ),
        "tz": tz,
        "practice_name": settings.practice_name,
        "packet": packet,
        "scope": scope,
        "period": period,
        "generated_at": local_time(packet.generated_at, tz),
        "flags_as_of": local_date(min(period.end, now), tz),
        "sections": sections,
        "client_count": sum(len(s["rows"]) for s in sections),
        "flagged_count": sum(1 for s in sections for r in s["rows"] if r["flags"]),
        "thresholds": settings.thresholds,
        "trend_weeks": settings.thresholds.trend_weeks,
        "links": {
            "pdf": f"/supervision/packet.pdf?{urlencode(query)}",
            "csv": f"/supervision/packet.csv?{urlencode(query)}",
        },
    }
    return templates.get_template("report_packet.html").render(context)


class WebPrintRenderer:
    """The print view for ``services.reports.printing`` (the API and the CLI get it handed in)."""

    assets: Mapping[str, Path] = PRINT_ASSETS

    def summary_document(
        self,
        summary: ProgressSummary,
        *,
        settings: Settings,
        vocabulary: str,
        now: datetime,
        offline: bool,
    ) -> str:
        return summary_document(
            summary, settings=settings, vocabulary=vocabulary, now=now, offline=offline
        )

    def packet_document(
        self, packet: SupervisionPacket, *, settings: Settings, now: datetime, offline: bool
    ) -> str:
        return packet_document(packet, settings=settings, now=now, offline=offline)


print_renderer: Final = WebPrintRenderer()

"""The activation episodes chart: peak intensity per episode, back to baseline or not."""

from __future__ import annotations

from typing import Any

import numpy as np

from practice_dashboard.domain.labels import duration_words
from practice_dashboard.services.analytics.client_view import EpisodeDetail
from practice_dashboard.web.charts.common import (
    _WHEN,
    BLUE,
    ORANGE,
    SELF_REPORT_NOTE,
    Chart,
    _figure,
    _Frame,
    _markers,
    _note,
    _plural,
    _thin,
    _thinning_note,
    _ts,
    escape,
    fmt_number,
    hover,
)

# --------------------------------------------------------------------------------------------
# a. Activation episodes
# --------------------------------------------------------------------------------------------


def _episode_hover(e: EpisodeDetail) -> list[str]:
    minutes = e.recovery_minutes
    return [
        duration_words(minutes) if minutes is not None else "",
        escape(e.trigger) or "—",
        escape(", ".join(e.strategies)) or "—",
        "<br>self-reported" if e.self_reported else "",
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
                self_reported=[group[i].self_reported for i in keep],
                customdata=[_episode_hover(group[i]) for i in keep],
                hovertemplate=hover(
                    f"{_WHEN}<br>Peak %{{y}}/10, {outcome}<br>Trigger: %{{customdata[1]}}"
                    "<br>Strategies: %{customdata[2]}%{customdata[3]}"
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
    if any(e.self_reported for e in episodes):
        summary = f"{summary} {SELF_REPORT_NOTE}"
    for note in notes:
        _note(layout, note)
    return Chart(
        "chart-episodes", "Activation episodes", summary, _figure(traces, layout), tuple(notes)
    )

"""The states chart: every check-in's zone and activation over time."""

from __future__ import annotations

from typing import Any

from practice_dashboard.domain.facts import (
    Source,
    Zone,
)
from practice_dashboard.domain.labels import zone_word
from practice_dashboard.web.charts.common import (
    _WHEN,
    SELF_REPORT_NOTE,
    ZONE_STYLE,
    Chart,
    _figure,
    _Frame,
    _markers,
    _note,
    _plural,
    _thin,
    _thinning_note,
    _ts,
    hover,
    plotly_text,
)

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
    # Each drawn time formatted once, for the line and its state's markers alike.
    x_of = dict(zip(keep, clock.xs([t[i] for i in keep]), strict=True))
    traces: list[dict[str, Any]] = []
    if keep:
        # A thin line in time order shows the movement between states.
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Activation, in time order",
                "x": [x_of[i] for i in keep],
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
                x=[x_of[i] for i in idx],
                y=[obs[i].activation for i in idx],
                self_reported=[obs[i].source == Source.CLIENT for i in idx],
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
        days = clock.days(t)
        summary = (
            f"Of {_plural(len(obs), 'check-in')} on {_plural(days, 'day')} in this period, "
            f"{shares}{observed}."
        )
        if any(o.source == Source.CLIENT for o in obs):
            summary = f"{summary} {SELF_REPORT_NOTE}"
    return Chart("chart-states", "States over time", summary, _figure(traces, layout), tuple(notes))

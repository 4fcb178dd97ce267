"""A chart's legend is HTML under the chart (web/charts/legend.py), the entries Plotly's own
legend drew: one per trace or shape it names, one per legend group, none for a lone series.

The rule for which entries Plotly draws is Plotly's: a trace is in the legend unless it says
``showlegend: false``, a shape only if it says ``showlegend: true``, and the legend is drawn
when it has two entries or one asked for explicitly (``src/components/legend/defaults.js`` of
the vendored plotly.js 4.1.1). tests/browser/test_charts.py checks the same against Plotly
itself, drawing each chart of a client page with Plotly's legend switched back on.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.web.charts.legend import LegendEntry, legend_entries
from tests.web.test_client_page import rich_client_page


def _line(name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "scatter", "mode": "lines", "name": name, "line": {"color": "#0072B2"}, **extra}


def test_one_entry_per_named_trace_in_order_with_its_mark() -> None:
    figure = {
        "data": [
            _line("Rolling median", line={"color": "#0072B2", "dash": "dot"}),
            {
                "type": "scatter",
                "mode": "markers",
                "name": "Within &amp; steady",  # names are Plotly markup, escaped
                "marker": {"color": "#009E73", "symbol": ["circle-open", "circle"]},
            },
            _line("Hidden helper line", showlegend=False),
        ],
        "layout": {"shapes": []},
    }
    first, second = legend_entries(figure)
    assert first == LegendEntry(
        name="Rolling median",
        color="#0072B2",
        dash="dot",
        symbol=None,
        area=False,
        traces=(0,),
        shapes=(),
    )
    # Self-reported points are drawn open; the legend shows the series' usual, filled mark.
    assert (second.name, second.symbol, second.dash, second.traces) == (
        "Within & steady",
        "circle",
        None,
        (1,),
    )


def test_a_legend_group_is_one_entry_that_toggles_every_trace_of_it() -> None:
    figure = {
        "data": [
            _line("Evidence", legendgroup="statistic", showlegend=True),
            _line("Limit", legendgroup="limit", showlegend=True),
            _line("Evidence", legendgroup="statistic", showlegend=False),
            _line("Limit", legendgroup="limit", showlegend=False),
        ],
        "layout": {},
    }
    entries = legend_entries(figure)
    assert [(e.name, e.traces) for e in entries] == [("Evidence", (0, 2)), ("Limit", (1, 3))]


def test_shapes_are_in_the_legend_only_when_they_ask_and_come_after_the_traces() -> None:
    band = {
        "type": "rect",
        "fillcolor": "rgba(0,158,115,0.13)",
        "showlegend": True,
        "name": "Personal baseline, usual range",
    }
    figure = {
        "data": [_line("Minutes")],
        "layout": {
            "shapes": [
                {"type": "line", "line": {"color": "#CC79A7", "dash": "dot"}},  # a life event
                band,
                {
                    "type": "line",
                    "line": {"color": "#009E73", "dash": "dash"},
                    "showlegend": True,
                    "name": "Baseline median",
                },
            ]
        },
    }
    entries = legend_entries(figure)
    assert [(e.name, e.traces, e.shapes) for e in entries] == [
        ("Minutes", (0,), ()),
        ("Personal baseline, usual range", (), (1,)),
        ("Baseline median", (), (2,)),
    ]
    assert entries[1].area
    assert entries[1].dash is None
    assert entries[2].dash == "dash"
    assert not entries[2].area


def test_a_lone_series_has_no_legend_unless_it_asks_for_one() -> None:
    assert legend_entries({"data": [_line("Weekly mean")], "layout": {}}) == ()
    assert legend_entries({"data": [], "layout": {}}) == ()
    asked = legend_entries({"data": [_line("Weekly mean", showlegend=True)], "layout": {}})
    assert [e.name for e in asked] == ["Weekly mean"]


def test_swatches_draw_the_entry_s_own_mark() -> None:
    def entry(**fields: Any) -> LegendEntry:
        base: dict[str, Any] = {
            "name": "n",
            "color": "#D55E00",
            "dash": None,
            "symbol": None,
            "area": False,
            "traces": (0,),
            "shapes": (),
        }
        return LegendEntry(**(base | fields))

    dotted = entry(dash="dot").swatch
    assert dotted.startswith("<line ")
    assert 'stroke="#D55E00"' in dotted
    assert 'stroke-dasharray="2 3"' in dotted
    assert "stroke-dasharray" not in entry(dash="solid").swatch
    assert entry(symbol="circle").swatch == '<circle cx="15.0" cy="7.0" r="4.5" fill="#D55E00"/>'
    # Open markers are outlined, as Plotly draws them: the legend tells them apart.
    assert 'fill="#ffffff" stroke="#D55E00"' in entry(symbol="star-diamond-open").swatch
    assert 'fill="none"' in entry(symbol="x-open").swatch  # an x is its strokes
    area = entry(area=True, color="rgba(0,158,115,0.13)").swatch
    assert area == '<rect x="1" y="2" width="28" height="10" fill="rgba(0,158,115,0.13)"/>'
    both = entry(dash="solid", symbol="square").swatch
    assert both.index("<line") < both.index("<rect")  # the marker on top of its line
    # Every symbol the charts use has its own shape; an unknown one falls back to a circle.
    shapes = {entry(symbol=s).swatch.split(" ", 1)[0] for s in ("triangle-up", "diamond")}
    assert shapes == {"<polygon"}
    assert entry(symbol="hexagon").swatch.startswith("<circle")


def test_the_client_page_draws_each_legend_in_html_and_plotly_draws_none(
    api: TestClient, db: DbSession, settings: Settings
) -> None:
    page, charts = rich_client_page(api, db, settings)
    with_legend = 0
    for chart_id, figure in charts.items():
        assert figure["layout"]["showlegend"] is False, chart_id
        assert "legend" not in figure["layout"], chart_id
        expected = legend_entries(figure)
        lists = [
            n
            for n in page.find_all("ul", cls="chart-legend")
            if n.attrs["data-legend-for"] == chart_id
        ]
        if not expected:
            assert lists == [], chart_id
            continue
        with_legend += 1
        (legend,) = lists
        assert legend.attrs["id"] == f"{chart_id}-legend"
        assert "hidden" in legend.attrs  # shown by app.js once its chart is drawn
        buttons = legend.find_all("button")
        assert [b.words() for b in buttons] == [e.name for e in expected], chart_id
        for button, entry in zip(buttons, expected, strict=True):
            assert button.attrs["type"] == "button"
            assert button.attrs["aria-pressed"] == "true"
            assert button.attrs["data-traces"] == " ".join(map(str, entry.traces))
            assert button.attrs["data-shapes"] == " ".join(map(str, entry.shapes))
            assert button.one("svg").attrs["aria-hidden"] == "true"
    # The rich client's page has charts with legends: monitoring, recovery, states, measures.
    assert with_legend >= 4


def test_the_print_view_lists_the_same_entries_without_buttons(
    api: TestClient, db: DbSession, settings: Settings
) -> None:
    page, charts = rich_client_page(api, db, settings, "/summary")
    lists = {n.attrs["data-legend-for"]: n for n in page.find_all("ul", cls="chart-legend")}
    assert lists
    for chart_id, figure in charts.items():
        expected = [e.name for e in legend_entries(figure)]
        if not expected:
            assert chart_id not in lists
            continue
        legend = lists[chart_id]
        assert "hidden" not in legend.attrs
        assert legend.find_all("button") == []
        assert [li.words() for li in legend.find_all("li")] == expected

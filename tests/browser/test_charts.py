"""Every chart kind draws with the vendored partial plotly.js bundle, on a desk and on a phone.

The bundle (static/vendor/plotly, "basic") holds only some trace types; a chart that used
another would draw nothing, or throw. One demo client has every kind the product draws: the
six course charts and a measure chart of each drawing path (a total with severity bands,
PHQ-9 and GAD-7; a total with a cutoff line, ORS; subscales without a total, CBI).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveApp, shot
from tests.browser.test_dashboard import log_in

OWNER = "therapist2@demo.practice"
CLIENT = "Kwame A."
CHART_IDS = [
    "chart-episodes",
    "chart-recovery",
    "chart-monitoring",
    "chart-capacity",
    "chart-states",
    "chart-engagement",
    "chart-measure-phq9",
    "chart-measure-gad7",
    "chart-measure-cbi",
    "chart-measure-ors",
]
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("size", list(SIZES))
def test_every_chart_kind_draws(live_app: LiveApp, page: Page, size: str) -> None:
    page.set_viewport_size(SIZES[size])
    log_in(page, live_app, OWNER)
    page.locator("a.client-name", has_text=CLIENT).first.click()
    expect(page.locator("h1")).to_have_attribute("title", CLIENT)
    # app.js says so once every chart has been drawn (benchmarks wait for the same signal).
    expect(page.locator("html[data-charts-drawn='1']")).to_have_count(1, timeout=15_000)
    drawn = page.evaluate(
        """() => Array.from(document.querySelectorAll("div.chart")).map(gd => ({
               id: gd.id,
               rendered: gd.dataset.rendered,
               svg: gd.querySelectorAll(".main-svg").length,
               points: (gd.data || []).reduce((n, t) => n + (t.x || t.y || []).length, 0),
               width: gd.getBoundingClientRect().width,
           }))"""
    )
    assert [c["id"] for c in drawn] == CHART_IDS
    for chart in drawn:
        assert chart["rendered"] == "1", chart
        assert chart["svg"] >= 1, chart
        assert chart["points"] > 0, chart
        # Drawn within the screen: nothing to scroll sideways for on a phone.
        assert 0 < chart["width"] <= SIZES[size]["width"], chart
    # Every tick label lies inside its chart: the axes' automargin keeps them in, which is
    # why Plotly is not asked to measure each label to hide the ones past the edge.
    past_the_edge = page.evaluate(
        """() => Array.from(document.querySelectorAll("div.chart")).flatMap(gd => {
               const box = gd.getBoundingClientRect();
               return Array.from(gd.querySelectorAll("g[class$='tick'] text"))
                   .map(label => [label, label.getBoundingClientRect()])
                   .filter(([, b]) => b.width > 0 && (b.left < box.left - 0.5 ||
                       b.right > box.right + 0.5 || b.top < box.top - 0.5 ||
                       b.bottom > box.bottom + 0.5))
                   .map(([label]) => gd.id + ": " + label.textContent);
           })"""
    )
    # Every chart is drawn once: its margins already fit its axes' labels, so Plotly's automatic
    # margins never grow them (a second drawing of the whole chart). Read from Plotly's own
    # layout: the margins asked for, and the plot area's offsets it drew with.
    grown = page.evaluate(
        """() => Array.from(document.querySelectorAll("div.chart")).flatMap(gd => {
               const asked = gd._fullLayout.margin, used = gd._fullLayout._size;
               return ["l", "r", "t", "b"].filter(side => used[side] > asked[side] + 0.5)
                   .map(side => `${gd.id}: ${side} ${asked[side]} -> ${used[side]}`);
           })"""
    )
    assert grown == []
    labels = page.evaluate("document.querySelectorAll(\"div.chart g[class$='tick'] text\").length")
    assert labels > 50
    assert past_the_edge == []
    marks = page.evaluate("performance.getEntriesByName('charts-drawn', 'mark').length")
    assert marks == 1
    # The scripts came from this app's static files (cached for good): app.js deferred, and
    # plotly.js preloaded while the page was parsed but run by app.js only after that, so
    # DOMContentLoaded waited for none of it.
    scripts = page.evaluate(
        "Array.from(document.scripts).filter(s => s.src).map(s => [s.src, s.defer])"
    )
    assert [(re.sub(r"^.*/static/|\?v=.*$", "", src), defer) for src, defer in scripts] == [
        ("js/app.js", True),
        ("vendor/plotly/plotly-basic.min.js", False),
    ]
    preloaded = page.evaluate(
        "Array.from(document.querySelectorAll('link[rel=preload][as=script]'), l => l.href)"
    )
    assert preloaded == [scripts[1][0]]
    fetched = page.evaluate(
        "src => performance.getEntriesByType('resource').filter(r => r.name === src).length",
        scripts[1][0],
    )
    assert fetched == 1, "plotly.js fetched once: the preload served the script"
    shot(page, f"charts-{size}")


def test_each_legend_names_what_plotly_would_and_hides_and_shows_it(
    live_app: LiveApp, page: Page
) -> None:
    page.set_viewport_size(SIZES["desktop"])
    log_in(page, live_app, OWNER)
    page.locator("a.client-name", has_text=CLIENT).first.click()
    expect(page.locator("html[data-charts-drawn='1']")).to_have_count(1, timeout=15_000)
    # The legends are HTML, shown with their charts; Plotly draws none of its own.
    expect(page.locator("ul.chart-legend:visible")).not_to_have_count(0)
    assert page.locator("ul.chart-legend[hidden]").count() == 0
    assert page.locator("div.chart g.legend").count() == 0
    # Each chart drawn again with Plotly's own legend back on: the same entries, in order.
    compared = page.evaluate(
        """async () => {
            const out = {};
            for (const gd of document.querySelectorAll("div.chart")) {
                const list = document.getElementById(gd.id + "-legend");
                const html = list ? Array.from(list.querySelectorAll("li"),
                                               li => li.textContent.trim()) : [];
                await Plotly.relayout(gd, {showlegend: null});
                const plotly = Array.from(gd.querySelectorAll("g.legend .legendtext"),
                                          t => t.textContent);
                await Plotly.relayout(gd, {showlegend: false});
                out[gd.id] = [html, plotly];
            }
            return out;
        }"""
    )
    assert list(compared) == CHART_IDS
    for chart_id, (html_entries, plotly_entries) in compared.items():
        assert html_entries == plotly_entries, chart_id
    assert sum(1 for html_entries, _ in compared.values() if html_entries) >= 5
    # An entry hides what it names and shows it again: a trace, then a shape.
    for kind in ("traces", "shapes"):
        button = page.locator(f"button.legend-entry:not([data-{kind}=''])").first
        chart_id = button.evaluate("b => b.closest('[data-legend-for]').dataset.legendFor")
        index = int(button.get_attribute(f"data-{kind}").split()[0])
        visible = (
            f"gd => gd.data[{index}].visible"
            if kind == "traces"
            else f"gd => gd.layout.shapes[{index}].visible"
        )
        chart = page.locator(f"#{chart_id}")
        button.click()
        expect(button).to_have_attribute("aria-pressed", "false")
        assert chart.evaluate(visible) in ("legendonly", False)
        button.press("Enter")  # a button: the keyboard works it too
        expect(button).to_have_attribute("aria-pressed", "true")
        assert chart.evaluate(visible) is True


# Notes each chart Plotly is asked to draw, in order, and (from the first one on) a task queued
# behind it: where "task" falls says whether the drawing gave the page a turn between charts.
# isInputPending is stood in for: "waiting" says a click or a key is waiting to be answered.
ORDER_WATCH = """
(() => {
  window.__drawn = [];
  Object.defineProperty(Scheduling.prototype, "isInputPending", {
    configurable: true, value: () => window.__inputWaiting === true,
  });
  let plotly;
  Object.defineProperty(window, "Plotly", {
    configurable: true,
    get: () => plotly,
    set: (value) => {
      const newPlot = value.newPlot;
      value.newPlot = function (gd, ...rest) {
        if (!window.__drawn.length) window.setTimeout(() => window.__drawn.push("task"), 0);
        window.__drawn.push(gd.id);
        return newPlot.call(this, gd, ...rest);
      };
      plotly = value;
    },
  });
})();
"""


def _drawing_order(page: Page, url: str, input_waiting: bool) -> list[str]:
    # Init scripts run in the order added: the last value set is the one the page sees.
    page.add_init_script(f"window.__inputWaiting = {str(input_waiting).lower()};")
    page.goto("about:blank")  # a new document (a fragment alone would only scroll)
    page.goto(url)
    expect(page.locator("html[data-charts-drawn='1']")).to_have_count(1, timeout=15_000)
    expect(page.locator("div.chart[data-rendered='1']")).to_have_count(len(CHART_IDS))
    page.wait_for_function("() => window.__drawn.includes('task')")
    assert page.evaluate("performance.getEntriesByName('charts-drawn', 'mark').length") == 1
    order: list[str] = page.evaluate("window.__drawn")
    return order


def test_charts_are_drawn_in_turn_those_on_the_screen_first(live_app: LiveApp, page: Page) -> None:
    page.set_viewport_size(SIZES["desktop"])
    log_in(page, live_app, OWNER)
    page.locator("a.client-name", has_text=CLIENT).first.click()
    expect(page.locator("h1")).to_have_attribute("title", CLIENT)
    url = page.url.split("#")[0]
    page.add_init_script(ORDER_WATCH)

    # Opened at the top of the page, no chart is on the screen: all are drawn in page order,
    # in one go when nothing waits (no frame between them to pay for)...
    order = _drawing_order(page, url, input_waiting=False)
    assert [i for i in order if i != "task"] == CHART_IDS
    assert order[-1] == "task"
    # ...and with a click waiting, it is answered after the chart being drawn, not after all.
    order = _drawing_order(page, url, input_waiting=True)
    assert [i for i in order if i != "task"] == CHART_IDS
    assert order[:3] == [CHART_IDS[0], "task", CHART_IDS[1]]

    # Opened at a chart further down (a link to it, or a reload that keeps the scroll), the
    # charts on the screen are drawn first and shown (the task queued behind the first runs
    # before the rest are drawn); then the rest, in page order.
    order = _drawing_order(page, url + "#chart-states", input_waiting=False)
    shown = order.index("task")
    on_screen, rest = order[:shown], order[shown + 1 :]
    assert on_screen[0] == "chart-states"
    assert on_screen == [i for i in CHART_IDS if i in on_screen]
    assert rest == [i for i in CHART_IDS if i not in on_screen]

"""Every chart has a text alternative tied to it (issue 9, item 9), on the page and in print.

The one-line summary under a chart is what a screen reader reads for it: the chart element
names it with aria-describedby, and the two sit in one <figure> whose <figcaption> holds it.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from tests.html import Node
from tests.web.test_client_page import rich_client_page


def figure_of(node: Node) -> Node:
    parent = node.parent
    while parent is not None and parent.tag != "figure":
        parent = parent.parent
    assert parent is not None, f"{node.attrs.get('id')} is not in a <figure>"
    return parent


def assert_described(page: Node, chart_id: str) -> str:
    """The chart's description: an element of its figure's caption; its words returned."""
    chart = page.by_id(chart_id)
    described = chart.attrs["aria-describedby"]
    caption = figure_of(chart).one("figcaption")
    description = page.by_id(described)
    assert description is caption or description in list(caption.iter()), chart_id
    words = description.words()
    assert words, chart_id
    return words


def test_client_page_charts_are_described_by_their_summary(
    api: TestClient, db: DbSession, settings: Settings
) -> None:
    page, charts = rich_client_page(api, db, settings)
    assert len(charts) >= 6
    for chart_id in charts:
        chart = page.by_id(chart_id)
        # A group, not an image: the drawn chart holds Plotly's mode-bar buttons, and an image
        # may not contain controls. Its name is the chart's title.
        assert chart.attrs["role"] == "group"
        title = page.by_id(f"{chart_id}-title").words()
        assert chart.attrs["aria-label"] == f"Chart: {title}"
        summary = assert_described(page, chart_id)
        assert summary == page.by_id(f"{chart_id}-summary").words()
        assert summary.endswith("."), summary


def test_print_view_charts_are_images_named_and_described_by_their_caption(
    api: TestClient, db: DbSession, settings: Settings
) -> None:
    page, charts = rich_client_page(api, db, settings, "/summary")
    assert charts
    for chart_id in charts:
        chart = page.by_id(chart_id)
        # Static in print: no controls, so an image whose name carries the summary.
        assert chart.attrs["role"] == "img"
        caption = assert_described(page, chart_id)
        summary = figure_of(chart).one("p", cls="chart-summary").words()
        assert summary in caption
        assert summary in chart.attrs["aria-label"]

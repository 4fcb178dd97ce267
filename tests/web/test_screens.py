"""Screens that hold up (issue 9, item 8), as the server draws them.

Names are split into whole words (the CSS then never breaks one), chart labels near either
end hang inwards, every axis grows the margins for its labels, and a client newer than the
default six months gets charts from the intake day. The browser tests check the same at
1366 px and 390 px.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Annotation, User
from practice_dashboard.models.enums import Role
from practice_dashboard.web.charts.common import _note
from practice_dashboard.web.routes.client_page import resolve_page_period
from tests.builders import login_cookies, make_client, make_observation, make_user, supervise
from tests.html import Node, parse
from tests.web.test_caseload_page import safety_client
from tests.web.test_client_page import charts_of

LONG = "Wolfeschlegelsteinhausenbergerdorff"
NAME = f"Ana {LONG} Ruiz"
LONDON = ZoneInfo("Europe/London")


def _page(api: TestClient, db: DbSession, settings: Settings, user: User, url: str) -> Node:
    cookies, _ = login_cookies(db, settings, user)
    db.commit()
    api.cookies.clear()
    api.cookies.update(cookies)
    response = api.get(url)
    assert response.status_code == 200, response.text[:2000]
    return parse(response.text)


def _words(node: Node) -> list[str]:
    return [span.text for span in node.find_all("span", cls="name-word")]


class TestNames:
    def test_every_place_a_name_is_shown_holds_it_as_whole_words(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        boss = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, boss, owner)
        client = safety_client(db, owner, NAME)
        words = ["Ana", LONG, "Ruiz"]

        caseload = _page(api, db, settings, owner, "/")
        link = caseload.by_id("caseload-table").one("a", cls="client-name")
        assert (_words(link), link.attrs["title"], link.words()) == (words, NAME, NAME)

        client_page = _page(api, db, settings, owner, f"/clients/{client.id}")
        h1 = client_page.one("h1")
        assert (_words(h1), h1.attrs["title"]) == (words, NAME)

        form = _page(api, db, settings, owner, f"/clients/{client.id}/observations/new")
        assert _words(form.one("span", cls="for-client")) == words

        supervision = _page(api, db, settings, boss, "/supervision")
        link = supervision.by_id("flagged-table").one("a", cls="client-name")
        assert (_words(link), link.attrs["title"]) == (words, NAME)

    def test_the_stylesheets_no_longer_break_anywhere(self) -> None:
        from practice_dashboard.web.templating import STATIC_DIR

        for sheet in sorted((STATIC_DIR / "css").glob("*.css")):
            assert "overflow-wrap: anywhere" not in sheet.read_text(), sheet.name


class TestChartEdges:
    def test_labels_near_the_ends_hang_inwards_and_axes_grow_their_margins(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        now = datetime.now(UTC).replace(microsecond=0)
        client = make_client(db, owner, intake_date=(now - timedelta(days=300)).date())
        make_observation(db, client, observed_at=now - timedelta(days=3), capacity=0)
        period_start = now - timedelta(days=150)
        for label, at in (
            ("First week back at work", period_start + timedelta(days=2)),
            ("Mid-period medication review", period_start + timedelta(days=75)),
            ("Moved house last weekend", now - timedelta(hours=3)),
        ):
            db.add(Annotation(client_id=client.id, at=at, kind="life_event", label=label))
        start = period_start.astimezone(settings.timezone).date().isoformat()
        page = _page(api, db, settings, owner, f"/clients/{client.id}?start={start}")
        charts = charts_of(page)
        assert charts
        for chart_id, figure in charts.items():
            layout = figure["layout"]
            axes = [k for k in layout if k.startswith(("xaxis", "yaxis"))]
            assert axes, chart_id
            assert all(layout[k]["automargin"] is True for k in axes), chart_id
            # The margins keep labels in, so Plotly need not measure each label to hide it.
            assert all(layout[k]["ticklabeloverflow"] == "allow" for k in axes), chart_id
            # Wide enough from the start for the labels (tests/browser/test_charts.py checks
            # Plotly never grows them): a right-hand axis's labels and title on the right, or
            # only the last date tick's half.
            right_axis = any(layout[k].get("side") == "right" for k in axes)
            right = layout["margin"]["r"]
            assert right >= 56 if right_axis else right == 36, chart_id
            assert layout["margin"]["b"] == 60, chart_id
            anchors = {
                a["text"]: a["xanchor"] for a in layout["annotations"] if a.get("xref") == "x"
            }
            assert anchors == {
                "First week back at work": "left",
                "Mid-period medication review": "center",
                "Moved house last weekend": "right",
            }, chart_id
        capacity = charts["chart-capacity"]["layout"]
        # A capacity of 0 sits half a step above the axis' bottom, drawn whole.
        assert capacity["yaxis"]["range"][0] < 0
        assert capacity["yaxis2"]["range"][0] < 0


class TestPeriodFromIntake:
    NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

    def test_a_new_client_gets_charts_from_the_intake_day(self) -> None:
        intake = date(2026, 5, 20)
        period = resolve_page_period(None, None, now=self.NOW, tz=LONDON, intake=intake)
        assert period.start_date == intake
        # Midnight in London (summer time) is 23:00 UTC the day before.
        assert period.start == datetime(2026, 5, 19, 23, 0, tzinfo=UTC)
        assert not period.custom

    def test_a_client_in_care_longer_gets_the_last_six_months(self) -> None:
        intake = date(2024, 1, 8)
        period = resolve_page_period(None, None, now=self.NOW, tz=LONDON, intake=intake)
        assert period.start == self.NOW - timedelta(days=183)

    def test_a_chosen_start_is_kept_even_before_intake(self) -> None:
        intake = date(2026, 5, 20)
        period = resolve_page_period("2026-03-01", None, now=self.NOW, tz=LONDON, intake=intake)
        assert period.start_date.isoformat() == "2026-03-01"
        assert period.custom

    def test_an_intake_in_the_future_keeps_the_default(self) -> None:
        intake = date(2026, 7, 1)
        period = resolve_page_period(None, None, now=self.NOW, tz=LONDON, intake=intake)
        assert period.start == self.NOW - timedelta(days=183)

    def test_the_client_page_form_shows_the_intake_day(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        intake = (datetime.now(settings.timezone) - timedelta(days=20)).date()
        client = make_client(db, owner, intake_date=intake)
        page = _page(api, db, settings, owner, f"/clients/{client.id}")
        assert page.by_id("period-start").attrs["value"] == intake.isoformat()
        for figure in charts_of(page).values():
            assert figure["layout"]["xaxis"]["range"][0].startswith(intake.isoformat())


def test_a_long_note_in_the_middle_of_an_empty_chart_takes_two_lines() -> None:
    # At 390 px the recovery chart's note ran past the chart's edge on one line
    # (tests/browser/test_pages.py, test_no_chart_label_or_note_is_clipped).
    layout: dict[str, Any] = {"annotations": []}
    _note(layout, "No episode in this period returned to baseline", centre=True)
    _note(layout, "No check-ins in this period", centre=True)
    _note(layout, "showing 500 of 1,234 points (LTTB downsampling)")
    assert [a["text"] for a in layout["annotations"]] == [
        "No episode in this period<br>returned to baseline",
        "No check-ins in this period",
        "showing 500 of 1,234 points (LTTB downsampling)",  # in a corner, not in the middle
    ]

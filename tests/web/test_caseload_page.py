"""The caseload page: rows and figures, filters, sorting, search, paging, chips, load, queries.

Pages are read as a DOM (`tests.html.parse`), not by substring, so a test checks what a person
or a screen reader would meet. The other page tests import `page` and `get` from here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete, update
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker

from practice_dashboard.app import create_app
from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.facts import ClientFacts, EpisodeFact
from practice_dashboard.domain.windows import weekly_recovery
from practice_dashboard.models import Client, ClientSummary, User
from practice_dashboard.models.enums import Attendance, ClientStatus, Role, Zone
from practice_dashboard.services.analytics.caseload import caseload_rows
from practice_dashboard.services.audit import Actor
from practice_dashboard.web.routes.caseload_page import drawn_row
from practice_dashboard.web.sparkline import sparkline
from tests.builders import (
    login_cookies,
    make_client,
    make_episode,
    make_measure,
    make_observation,
    make_session,
    make_user,
    supervise,
)
from tests.conftest import QueryCounter
from tests.html import Node, parse

# --------------------------------------------------------------------------------------------
# Pages, read as a DOM (tests/html.py)
# --------------------------------------------------------------------------------------------


def page(api: TestClient, db: DbSession, settings: Settings, user: User, url: str) -> Node:
    """GET `url` logged in as `user`; asserts a 200 and returns the DOM."""
    response = get(api, db, settings, user, url)
    assert response.status_code == 200, response.text[:2000]
    return parse(response.text)


def get(api: TestClient, db: DbSession, settings: Settings, user: User, url: str) -> Any:
    cookies, _ = login_cookies(db, settings, user)
    db.commit()
    api.cookies.clear()
    api.cookies.update(cookies)
    return api.get(url, follow_redirects=False)


# --------------------------------------------------------------------------------------------
# Data: relative to the real clock, because summaries are computed for "now"
# --------------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def calm_client(db: DbSession, owner: User, **overrides: Any) -> Client:
    """A client with recent data and no flag."""
    client = make_client(db, owner, **overrides)
    make_observation(db, client, observed_at=_now() - timedelta(days=1), zone=Zone.WITHIN)
    return client


def improving_client(db: DbSession, owner: User, name: str) -> Client:
    """Weekly episodes recovering faster each week: median 40 min over 28 days, improving."""
    now = _now()
    client = make_client(db, owner, display_name=name)
    for week, minutes in enumerate([90, 80, 70, 60, 50, 40, 40, 30]):
        start = now - timedelta(weeks=8 - week, hours=-2)
        make_episode(db, client, started_at=start, baseline_at=start + timedelta(minutes=minutes))
    make_observation(db, client, observed_at=now - timedelta(days=1), zone=Zone.WITHIN)
    make_observation(db, client, observed_at=now - timedelta(days=2), zone=Zone.HYPER)
    make_session(db, client, starts_at=now - timedelta(days=3), attendance=Attendance.ATTENDED)
    make_session(db, client, starts_at=now + timedelta(days=4), attendance=Attendance.SCHEDULED)
    return client


def safety_client(db: DbSession, owner: User, name: str) -> Client:
    """PHQ-9 item 9 above 0: a safety alert."""
    client = calm_client(db, owner, display_name=name)
    make_measure(
        db,
        client,
        administered_at=_now() - timedelta(days=2),
        items=[1, 1, 1, 1, 1, 1, 1, 1, 1],
        total=9.0,
    )
    return client


def _figures(panel: Node, attr: str) -> dict[str, str]:
    """A panel's figures: the words of each <dd> that names its figure in `attr`."""
    return {dd.attrs[attr]: dd.words() for dd in panel.find_all("dd") if attr in dd.attrs}


def _one_improving_one_without_data_of_two(doc: Node) -> None:
    """The recovery directions panel counts one improving and one without enough data, of
    two active clients."""
    directions = doc.by_id("directions")
    assert _figures(directions, "data-direction") == {
        "improving": "1",
        "no_clear_trend": "0",
        "worsening": "0",
        "insufficient_data": "1",
    }
    assert "Active clients you can see (2)" in directions.words()


def rows(doc: Node) -> list[Node]:
    return doc.by_id("caseload-table").find("tbody").find_all("tr")


def names(doc: Node) -> list[str]:
    if not doc.find_all(id="caseload-table"):
        return []
    return [row.find("a", cls="client-name").words() for row in rows(doc)]


def row_of(doc: Node, client: Client) -> Node:
    return doc.by_id("caseload-table").find("tr", data_client=str(client.id))


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


class TestRowsAndFigures:
    def test_each_client_is_a_row_with_its_figures(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        built_at = _now()  # the builders read the clock too: a minute may turn meanwhile
        client = improving_client(db, owner, "Ada Example")
        quiet = make_client(db, owner, display_name="Bo Quiet")
        other = make_client(db, make_user(db, settings), display_name="Not Mine")
        doc = page(api, db, settings, owner, "/")

        assert sorted(names(doc)) == ["Ada Example", "Bo Quiet"]
        assert other.display_name not in doc.words()
        row = row_of(doc, client)
        assert row.find("a", cls="client-name").attrs["href"] == f"/clients/{client.id}"
        cells = row.find_all("td")
        tz = settings.timezone
        now = _now()
        assert cells[1].words() == "Active"
        last_at = {
            (t - timedelta(days=3)).astimezone(tz).strftime("%d %b %Y") for t in (built_at, now)
        }
        assert cells[2].words() in last_at
        next_at = {
            (t + timedelta(days=4)).astimezone(tz).strftime("%a %d %b, %H:%M")
            for t in (built_at, now)
        }
        assert cells[3].words() in next_at
        recovery = row.find("td", cls="recovery-cell")
        assert recovery.find(cls="recovery-median").words() == "40 min"
        direction = recovery.find("span", cls="direction")
        assert direction.attrs["data-direction"] == "improving"
        assert direction.words() == "↓ improving"
        # The arrow is decoration; the word carries the meaning for screen readers.
        assert direction.find("span").attrs["aria-hidden"] == "true"
        assert cells[5].words() == "50%"

        spark = recovery.find("svg")
        assert spark.attrs["role"] == "img"
        assert spark.attrs["aria-label"].startswith("Weekly median recovery time")
        assert "latest 30 min" in spark.attrs["aria-label"]
        assert spark.find_all("polyline") or spark.find_all("circle")

        quiet_row = row_of(doc, quiet)
        assert quiet_row.find(cls="recovery-median").words() == "—"
        assert quiet_row.find("span", cls="direction").words() == "not enough data"
        assert "No recovered activation episodes" in quiet_row.find("svg").attrs["aria-label"]

    def test_a_hostile_name_is_text(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        hostile = "<script>alert(1)</script>"
        client = calm_client(db, owner, display_name=hostile)
        response = get(api, db, settings, owner, "/")
        doc = parse(response.text)
        assert row_of(doc, client).find("a", cls="client-name").words() == hostile
        assert all("alert(1)" not in s.words() for s in doc.find_all("script"))
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text

    def test_admins_go_to_accounts(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        admin = make_user(db, settings, Role.ADMIN)
        response = get(api, db, settings, admin, "/")
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/users"

    def test_needs_a_login(self, api: TestClient) -> None:
        response = api.get("/", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")


class TestFlags:
    def test_chips_carry_their_reasons_for_hover_focus_and_screen_readers(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        client = safety_client(db, owner, "Cy Safety")
        doc = page(api, db, settings, owner, "/")
        chip = row_of(doc, client).find("span", cls="chip", data_flag="safety")
        assert "alert-level" in chip.classes
        assert chip.attrs["tabindex"] == "0"
        assert chip.words().startswith("Safety · alert")
        tip = doc.by_id(chip.attrs["aria-describedby"])
        assert tip.attrs["role"] == "tooltip"
        assert tip in chip.find_all(cls="tip")
        assert tip.find(cls="tip-lead").words() == "Check-in suggested, because:"
        reasons = [r.words() for r in tip.find_all(cls="tip-reason")]
        assert reasons
        assert any("PHQ-9" in r for r in reasons)
        assert tip.find(cls="tip-suggestion").words().startswith("Next step:")

    def test_filter_by_flag_and_level(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        safety_client(db, owner, "Alert Person")
        make_client(db, owner, display_name="No Data Person")  # stale_data: watch
        calm_client(db, owner, display_name="Calm Person")
        assert names(page(api, db, settings, owner, "/?flag=safety")) == ["Alert Person"]
        assert names(page(api, db, settings, owner, "/?level=watch")) == ["No Data Person"]
        assert names(page(api, db, settings, owner, "/?flag=stale_data&level=alert")) == []
        # Worst first by default; an empty form choice or a hand-edited value means "any".
        everyone = page(api, db, settings, owner, "/?flag=&level=bogus&sort=nope")
        assert names(everyone) == ["Alert Person", "No Data Person", "Calm Person"]
        flags_th = everyone.by_id("caseload-table").find("a", data_sort="flags").attrs
        assert flags_th["href"] == "?order=asc"
        selected = page(api, db, settings, owner, "/?flag=safety").by_id("f-flag")
        assert selected.find("option", value="safety").attrs.get("selected") == ""

    def test_a_flag_has_the_same_name_on_the_caseload_and_the_client_page(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        quiet = make_client(db, owner, display_name="No Data Person")  # stale_data: watch
        alert = safety_client(db, owner, "Alert Person")
        caseload = page(api, db, settings, owner, "/")
        seen: dict[str, str] = {}
        for client in (quiet, alert):
            chips = row_of(caseload, client).find_all("span", cls="chip")
            on_caseload = {chip.attrs["data-flag"]: chip.own_words() for chip in chips}
            client_page = page(api, db, settings, owner, f"/clients/{client.id}")
            on_client_page = {
                card.attrs["data-flag"]: card.find("h3", cls="flag-title").own_words()
                for card in client_page.by_id("flags").find_all("article", cls="flag")
            }
            assert on_caseload == on_client_page
            seen.update(on_caseload)
        assert seen == {"stale_data": "No recent data", "safety": "Safety"}


class TestFilteringSortingPaging:
    def test_status_and_search(self, api: TestClient, db: DbSession, settings: Settings) -> None:
        owner = make_user(db, settings)
        calm_client(db, owner, display_name="Dana Active")
        calm_client(db, owner, display_name="Dan Paused", status=ClientStatus.PAUSED)
        calm_client(db, owner, display_name="Eve Other")
        assert names(page(api, db, settings, owner, "/?status=paused")) == ["Dan Paused"]
        assert names(page(api, db, settings, owner, "/?search=DAN&sort=name")) == [
            "Dan Paused",
            "Dana Active",
        ]
        doc = page(api, db, settings, owner, "/?search=%25")  # a literal %, not a wildcard
        assert names(doc) == []
        assert doc.by_id("result-line").words() == "No clients match these filters."
        form = doc.find("form", role="search")
        assert form.attrs["method"] == "get"
        assert form.find("input", name="search").attrs["value"] == "%"

    def test_sort_by_column_toggles_order(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        for name in ("Bea", "Abe", "Cal"):
            calm_client(db, owner, display_name=name)
        doc = page(api, db, settings, owner, "/?sort=name")
        assert names(doc) == ["Abe", "Bea", "Cal"]
        header = doc.by_id("caseload-table").find("a", data_sort="name")
        assert doc.by_id("caseload-table").find("th", aria_sort="ascending").find("a") == header
        assert header.attrs["href"] == "?sort=name&order=desc"
        doc = page(api, db, settings, owner, "/" + header.attrs["href"])
        assert names(doc) == ["Cal", "Bea", "Abe"]
        assert doc.by_id("caseload-table").find("th", aria_sort="descending")
        # Only the sorted column has aria-sort.
        assert len(doc.find_all("th", aria_sort="descending")) == 1
        assert not doc.find_all("th", aria_sort="ascending")

    def test_sort_by_recovery_puts_unknown_last(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        fast = calm_client(db, owner, display_name="Fast")
        start = _now() - timedelta(days=2)
        make_episode(db, fast, started_at=start, baseline_at=start + timedelta(minutes=20))
        calm_client(db, owner, display_name="Unknown")
        improving_client(db, owner, "Slower")
        asc = names(page(api, db, settings, owner, "/?sort=recovery&order=asc"))
        desc = names(page(api, db, settings, owner, "/?sort=recovery&order=desc"))
        # A client without a recovery figure is never "fastest" or "slowest": it goes last.
        assert asc == ["Fast", "Slower", "Unknown"]
        assert desc == ["Slower", "Fast", "Unknown"]

    def test_paging(
        self, api: TestClient, db: DbSession, settings: Settings, queries: QueryCounter
    ) -> None:
        owner = make_user(db, settings)
        for i in range(27):
            calm_client(db, owner, display_name=f"Person {i:02d}")
        doc = page(api, db, settings, owner, "/?sort=name&per_page=25")
        assert len(rows(doc)) == 25
        assert doc.by_id("result-line").words().startswith("1–25 of 27 clients")
        pager = doc.find("nav", aria_label="Pages")
        next_link = pager.find("a", rel="next").attrs["href"]
        assert next_link == "?sort=name&page=2&per_page=25"
        doc = page(api, db, settings, owner, "/" + next_link)
        assert names(doc) == ["Person 25", "Person 26"]
        assert doc.find("nav", aria_label="Pages").find("a", rel="prev")


class TestPanels:
    def test_own_load_with_its_flag_and_recovery_directions(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        safety_client(db, owner, "One")
        improving_client(db, owner, "Two")
        calm_client(db, owner, display_name="Three", status=ClientStatus.PAUSED)
        doc = page(api, db, settings, owner, "/")
        load = doc.by_id("own-load")
        assert _figures(load, "data-figure") == {
            "active_caseload": "2",
            "attended_sessions_last_7_days": "1",
            "alert_share": "50%",
            "self_check": "—",
        }
        # One of two active clients has an alert: above the 30% the practice allows.
        flag = load.find(cls="load-flag")
        assert flag.find("p").words().startswith("Check-in suggested")
        assert "1 of 2 active clients (50%) have an alert" in flag.find("ul").words()

        _one_improving_one_without_data_of_two(doc)

    def test_directions_count_every_active_client_whatever_the_filters(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        """services/analytics/caseload.py `_tally`: the total follows the filters; the
        recovery directions count every active, unarchived client the caller can see."""
        owner = make_user(db, settings)
        safety_client(db, owner, "One")
        improving_client(db, owner, "Two")
        improving_client(db, owner, "Gone")
        calm_client(db, owner, display_name="Three", status=ClientStatus.PAUSED)
        improving_client(db, make_user(db, settings), "Someone else's")
        db.execute(update(Client).where(Client.display_name == "Gone").values(archived_at=_now()))
        doc = page(api, db, settings, owner, "/?search=tw")
        assert names(doc) == ["Two"]
        assert "1–1 of 1 client matching the filters" in doc.by_id("main").words()
        _one_improving_one_without_data_of_two(doc)

    def test_calm_load_says_so(self, api: TestClient, db: DbSession, settings: Settings) -> None:
        owner = make_user(db, settings)
        calm_client(db, owner)
        load = page(api, db, settings, owner, "/").by_id("own-load")
        assert not load.find_all(cls="load-flag")
        assert (
            load.find(cls="load-ok").words()
            == "Within the practice's limits on every measure above."
        )

    def test_supervisor_sees_supervisees_clients_with_a_practitioner_column(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        supervisor = make_user(db, settings, Role.SUPERVISOR, full_name="Sam Supervisor")
        supervisee = make_user(db, settings, full_name="Tess Therapist")
        supervise(db, supervisor, supervisee)
        calm_client(db, supervisor, display_name="Own Client")
        theirs = calm_client(db, supervisee, display_name="Their Client")
        calm_client(db, make_user(db, settings), display_name="Stranger")
        doc = page(api, db, settings, supervisor, "/?sort=name")
        assert names(doc) == ["Own Client", "Their Client"]
        assert row_of(doc, theirs).find_all("td")[1].words() == "Tess Therapist"
        filtered = page(api, db, settings, supervisor, f"/?practitioner={supervisee.id}")
        assert names(filtered) == ["Their Client"]


class TestStale:
    @pytest.fixture
    def lazy_app(self, settings: Settings, session_factory: sessionmaker[OrmSession]) -> FastAPI:
        # No refresh budget: summaries from an earlier day are shown as they are.
        app = create_app(settings.model_copy(update={"summary_refresh_budget": 0}))
        app.state.session_factory = session_factory
        return app

    def two_clients(
        self, db: DbSession, settings: Settings, changed: str, other: str
    ) -> tuple[User, Client]:
        """A practitioner with two calm clients, committed; returns the one to change."""
        owner = make_user(db, settings)
        client = calm_client(db, owner, display_name=changed)
        calm_client(db, owner, display_name=other)
        db.commit()
        return owner, client

    def test_figures_from_an_earlier_day_say_so(
        self, lazy_app: FastAPI, db: DbSession, settings: Settings
    ) -> None:
        owner, old = self.two_clients(db, settings, "Yesterday's", "Today's")
        yesterday = datetime.now(settings.timezone).date() - timedelta(days=1)
        db.execute(
            update(ClientSummary).where(ClientSummary.client_id == old.id).values(as_of=yesterday)
        )
        db.commit()
        with TestClient(lazy_app) as api:
            doc = page(api, db, settings, owner, "/")
        assert (
            doc.by_id("stale-notice")
            .words()
            .startswith("Figures for 1 client are waiting to be brought up to date")
        )
        assert row_of(doc, old).find(cls="as-of").words() == f"figures from {yesterday:%d %b}"
        assert len(doc.find_all(cls="as-of")) == 1

    def test_a_client_without_a_summary_is_listed_without_figures(
        self, lazy_app: FastAPI, db: DbSession, settings: Settings
    ) -> None:
        owner, bare = self.two_clients(db, settings, "Not Computed", "Computed")
        # Derived rows only (the summary is rebuilt from the record): none for this client.
        db.execute(delete(ClientSummary).where(ClientSummary.client_id == bare.id))
        db.commit()
        with TestClient(lazy_app) as api:
            doc = page(api, db, settings, owner, "/")
        assert sorted(names(doc)) == ["Computed", "Not Computed"]
        row = row_of(doc, bare)
        assert row.find(cls="as-of").words() == "figures not computed yet"
        assert row.find(cls="recovery-median").words() == "—"
        assert row.find(cls="direction").words() == "not enough data"
        assert row.find(cls="flags-cell").words() == "none"
        assert row.find(cls="status").words() == "Active"


class TestRowsDrawnOnce:
    """web/routes/caseload_page.py `drawn_row`: a row is drawn again only when something it
    shows has changed."""

    def rows_now(self, db: DbSession, settings: Settings, owner: User) -> dict[str, Any]:
        result = caseload_rows(db, actor=Actor(owner), settings=settings, now=datetime.now(UTC))
        return {row.display_name: row for row in result["rows"]}

    def test_an_unchanged_row_is_drawn_once_and_a_changed_one_again(
        self, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        client = safety_client(db, owner, "Kept Drawn")
        db.commit()
        today = datetime.now(settings.timezone).date()
        tz = settings.timezone
        first = drawn_row(self.rows_now(db, settings, owner)["Kept Drawn"], today, tz, False)
        assert 'data-flag="safety"' in first
        # The same content read again (new row objects): the same drawing, not a new one.
        again = self.rows_now(db, settings, owner)["Kept Drawn"]
        assert drawn_row(again, today, tz, False) is first
        # Its figures change (a summary column, then its flags' JSON): drawn again.
        db.execute(
            update(ClientSummary)
            .where(ClientSummary.client_id == client.id)
            .values(time_in_window=0.25)
        )
        db.commit()
        changed = drawn_row(self.rows_now(db, settings, owner)["Kept Drawn"], today, tz, False)
        assert changed is not first
        assert ">25%<" in changed
        db.execute(
            update(ClientSummary).where(ClientSummary.client_id == client.id).values(flags=[])
        )
        db.commit()
        calmed = drawn_row(self.rows_now(db, settings, owner)["Kept Drawn"], today, tz, False)
        assert 'data-flag="safety"' not in calmed
        assert '<span class="muted">none</span>' in calmed
        # The client renamed: drawn again with the new name.
        db.execute(update(Client).where(Client.id == client.id).values(display_name="New Name"))
        db.commit()
        renamed = drawn_row(self.rows_now(db, settings, owner)["New Name"], today, tz, False)
        assert 'title="New Name"' in renamed

    def test_the_day_and_the_practitioner_column_are_part_of_what_is_drawn(
        self, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings, full_name="Dr Owner")
        calm_client(db, owner, display_name="Same Row")
        db.commit()
        row = self.rows_now(db, settings, owner)["Same Row"]
        today = datetime.now(settings.timezone).date()
        tz = settings.timezone
        current = drawn_row(row, today, tz, False)
        assert "as-of" not in current
        assert "client-practitioner" not in current
        # The same figures seen on a later day are marked as an earlier day's.
        later = drawn_row(row, today + timedelta(days=1), tz, False)
        assert f"figures from {today:%d %b}" in later
        with_column = drawn_row(row, today, tz, True)
        assert '<td class="practitioner-col">Dr Owner</td>' in with_column

    def test_the_page_shows_a_change_made_after_it_was_viewed(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings)
        client = calm_client(db, owner, display_name="Before Change")
        before = page(api, db, settings, owner, "/")
        assert names(before) == ["Before Change"]
        db.execute(update(Client).where(Client.id == client.id).values(display_name="After"))
        db.execute(
            update(ClientSummary)
            .where(ClientSummary.client_id == client.id)
            .values(recovery_median_minutes=42.0)
        )
        db.commit()
        after = page(api, db, settings, owner, "/")
        assert names(after) == ["After"]
        assert row_of(after, client).find(cls="recovery-median").words() == "42 min"


class TestSparkline:
    def test_weekly_medians_with_gaps(self) -> None:
        now = _now()

        def episode(days_ago: float, minutes: float | None) -> EpisodeFact:
            start = now - timedelta(days=days_ago)
            end = None if minutes is None else start + timedelta(minutes=minutes)
            return EpisodeFact(started_at=start, peak_intensity=6, baseline_at=end)

        facts = ClientFacts(
            status=ClientStatus.ACTIVE,
            intake_date=(now - timedelta(days=200)).date(),
            episodes=(
                episode(100, 99),  # before the 12 weeks: left out
                episode(80, 60),  # the first week (84 to 77 days ago)
                episode(2, 20),
                episode(1, 30),
                episode(1, 40),
                episode(0.5, None),  # not back to baseline: no duration to take a median of
            ),
        )
        weeks = weekly_recovery(facts, now)
        assert len(weeks) == 12
        assert weeks[0] == 60
        assert weeks[-1] == 30  # the last seven days: median of 20, 30 and 40
        assert weeks[1:-1] == [None] * 10

    def test_runs_dots_and_labels(self) -> None:
        spark = sparkline([None, 10, 20, None, 30, None, None, None, None, None, None, None])
        # One run of two weeks; the y axis runs from 0 (bottom) to the longest week (top).
        assert spark.segments == ("13.4,17.7 23.7,10.3",)
        assert len(spark.dots) == 1  # an isolated week
        assert spark.latest == spark.dots[0]
        assert "3 of them with recovered episodes" in spark.label
        assert "latest is from 7 weeks ago" in spark.label
        assert not sparkline([None] * 12).has_data
        assert sparkline(None).label == "Weekly recovery has not been computed yet"

    def test_drawn_once_per_series(self) -> None:
        """The same weekly series, as a list or a tuple, is drawn once and shared; changing
        the caller's list afterwards changes nothing that was drawn."""
        weeks: list[float | None] = [12.0, None, 30.5, 18.0]
        first = sparkline(weeks)
        assert sparkline(tuple(weeks)) is first
        weeks[0] = 99.0
        # Drawn from 12.0, not 99.0: its dot sits below the top (the 30.5 week is the top).
        assert first.dots == ((3.0, 16.3),)
        assert "first 12 min" in first.label
        assert sparkline(weeks) is not first
        assert "first 99 min" in sparkline(weeks).label


class TestQueryCount:
    def test_fixed_number_of_queries_whatever_the_caseload(
        self, api: TestClient, db: DbSession, settings: Settings, queries: QueryCounter
    ) -> None:
        owner = make_user(db, settings)
        counts = []
        for n in (3, 37):
            for _ in range(n):
                client = safety_client(db, owner, "Someone")
                make_episode(db, client, started_at=_now() - timedelta(days=3))
            cookies, _ = login_cookies(db, settings, owner)
            db.commit()
            api.cookies.update(cookies)
            queries.reset()
            response = api.get("/?per_page=100")
            assert response.status_code == 200
            counts.append(queries.count)
            assert len(rows(parse(response.text))) == (3 if n == 3 else 40)
        assert counts[0] == counts[1], queries.statements

    def test_out_of_date_summaries_are_looked_up_only_when_the_tally_finds_some(
        self, api: TestClient, db: DbSession, settings: Settings, queries: QueryCounter
    ) -> None:
        """services/analytics/caseload.py: one tally counts the out-of-date summaries with the
        total and the recovery directions; only when it finds some are they looked up (and
        brought up to date), and then tallied again for the notice."""
        owner = make_user(db, settings)
        client = calm_client(db, owner)
        cookies, _ = login_cookies(db, settings, owner)
        db.commit()
        api.cookies.update(cookies)

        def out_of_date_reads() -> tuple[int, int]:
            queries.reset()
            assert api.get("/").status_code == 200
            reads = [s for s in queries.statements if "client_summary.next_session_at <=" in s]
            return len(reads), sum("count(" in s for s in reads)

        assert out_of_date_reads() == (1, 1)  # the tally, which found none
        db.execute(
            update(ClientSummary)
            .where(ClientSummary.client_id == client.id)
            .values(as_of=datetime.now(settings.timezone).date() - timedelta(days=1))
        )
        db.commit()
        # Found: looked up and brought up to date, then tallied again for the notice.
        assert out_of_date_reads() == (3, 2)
        assert out_of_date_reads() == (1, 1)

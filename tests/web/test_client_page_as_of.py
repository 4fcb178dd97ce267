"""The client page as it stood at the end of a day (``/clients/{id}?as_of=DAY``): a replay.

The day's rules are the API's (domain/periods.py; tests/api/test_metrics_as_of.py): the end of
that day in the practice's time zone, from intake to today. The page says it is a replay,
shows only what was known then, and offers nothing to acknowledge (the past cannot be).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.domain.periods import AS_OF_FUTURE, AS_OF_UNREADABLE
from practice_dashboard.models import AuditEvent, Client, User
from tests.builders import make_client, make_measure, make_recovery_course, make_user, sign_in
from tests.html import Node, parse
from tests.web.test_client_page import charts_of

CHANGE_DAYS_AGO = 49


def _now() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _day(settings: Settings, days_ago: int) -> date:
    return (_now() - timedelta(days=days_ago)).astimezone(settings.timezone).date()


def _words(day: date) -> str:
    return day.strftime("%d %b %Y")  # the page's local_date


def _page(api: TestClient, client: Client, **params: str) -> Node:
    response = api.get(f"/clients/{client.id}", params=params)
    assert response.status_code == 200, response.text
    return parse(response.text)


def _flags(page: Node) -> set[str]:
    return {a.attrs["data-flag"] for a in page.find_all("article", cls="flag")}


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings)


@pytest.fixture
def slowing(db: DbSession, owner: User) -> Client:
    """Recovery about 45 minutes, then from 7 weeks ago about 150 (make_recovery_course); a
    PHQ-9 with a self-harm answer 10 days ago."""
    now = _now()
    client = make_client(db, owner, intake_date=(now - timedelta(days=126)).date())
    make_recovery_course(
        db,
        client,
        first=now - timedelta(days=119),
        until=now - timedelta(hours=12),
        change=now - timedelta(days=CHANGE_DAYS_AGO),
    )
    make_measure(
        db,
        client,
        administered_at=now - timedelta(days=10),
        items=[1, 1, 1, 1, 1, 1, 1, 1, 2],
        total=10.0,
        severity="moderate",
    )
    db.commit()
    return client


class TestReplay:
    def test_today_has_both_flags_and_forms_to_acknowledge_them(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, slowing: Client
    ) -> None:
        sign_in(api, db, settings, owner)
        page = _page(api, slowing)
        assert _flags(page) >= {"deterioration", "safety"}
        assert page.find_all("form", cls="ack-form")
        assert not page.find_all(id="as-of-notice")

    def test_before_the_change_neither_flag_and_a_banner_says_so(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, slowing: Client
    ) -> None:
        sign_in(api, db, settings, owner)
        day = _day(settings, CHANGE_DAYS_AGO + 7)
        page = _page(api, slowing, as_of=day.isoformat())
        notice = page.by_id("as-of-notice").words()
        assert notice.startswith(f"As it stood on {_words(day)}:")
        assert page.by_id("as-of-notice").one("a").attrs["href"] == f"/clients/{slowing.id}"
        assert _flags(page) == set()
        assert "No check-in suggested then." in page.by_id("flags").words()
        figure = charts_of(page)["chart-monitoring"]
        assert not [t for t in figure["data"] if t["name"].startswith("Crossed the line")]
        # The charts end at the end of that day (the next local midnight).
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=settings.timezone)
        assert figure["layout"]["xaxis"]["range"][1] == end.strftime("%Y-%m-%d %H:%M")

    def test_weeks_after_the_change_the_alert_without_a_form(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, slowing: Client
    ) -> None:
        sign_in(api, db, settings, owner)
        day = _day(settings, CHANGE_DAYS_AGO - 21)
        page = _page(api, slowing, as_of=day.isoformat())
        # The PHQ-9 of 10 days ago was not there yet.
        assert _flags(page) == {"deterioration"}
        assert f"as they stood on {_words(day)}" in page.by_id("flags-heading").words()
        assert not page.find_all("form", cls="ack-form")
        figure = charts_of(page)["chart-monitoring"]
        assert [t for t in figure["data"] if t["name"] == "Crossed the line"]
        # The period form and the quick periods keep the day.
        form = page.one("form", cls="period-form")
        assert form.one("input", name="as_of").attrs["value"] == day.isoformat()
        links = [a.attrs["href"] for a in page.one("ul", cls="quick-periods").find_all("a")]
        assert all(f"as_of={day.isoformat()}" in href for href in links)

    def test_the_read_is_audited_as_a_replay(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, slowing: Client
    ) -> None:
        sign_in(api, db, settings, owner)
        day = _day(settings, 30)
        _page(api, slowing, as_of=day.isoformat())
        [event] = db.scalars(
            select(AuditEvent).where(
                AuditEvent.client_id == slowing.id, AuditEvent.entity == "client"
            )
        ).all()
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=settings.timezone)
        assert event.detail == f"page as_of {end.astimezone(UTC):%Y-%m-%d %H:%M} utc"


class TestBadDay:
    @pytest.mark.parametrize(
        ("value", "message"),
        [("yesterday", AS_OF_UNREADABLE), ("2099-01-01", AS_OF_FUTURE)],
    )
    def test_a_bad_day_is_explained_and_today_shown(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        owner: User,
        slowing: Client,
        value: str,
        message: str,
    ) -> None:
        sign_in(api, db, settings, owner)
        page = _page(api, slowing, as_of=value)
        assert page.by_id("as-of-problem").words() == (
            f"That day could not be shown (as_of: {message}). Showing today."
        )
        assert not page.find_all(id="as-of-notice")
        assert _flags(page) >= {"deterioration", "safety"}

    def test_another_practitioner_gets_404(
        self, api: TestClient, db: DbSession, settings: Settings, slowing: Client
    ) -> None:
        sign_in(api, db, settings, make_user(db, settings))
        day = _day(settings, 30).isoformat()
        assert api.get(f"/clients/{slowing.id}", params={"as_of": day}).status_code == 404

"""The schedule in the browser: book, the week page, one-action completion, then the notes;
and logging a session at a booked time offers to complete the booking instead of adding one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Client, Session, User
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import Attendance, ClientStatus, HomeworkCompletion, Role
from tests.builders import make_client, make_session, make_user, supervise
from tests.conftest import QueryCounter
from tests.html import Node, parse
from tests.web.test_log_forms import log_in, submitted_values, the_form

LONDON = ZoneInfo("Europe/London")  # the test settings' practice time zone


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings, Role.THERAPIST)


@pytest.fixture
def csrf(api: TestClient, db: DbSession, settings: Settings, owner: User) -> str:
    return log_in(api, db, settings, owner)


@pytest.fixture
def client(db: DbSession, owner: User, csrf: str) -> Client:
    client = make_client(db, owner, display_name="Robin", session_cadence_days=14)
    db.commit()
    return client


def drawn(api: TestClient, url: str) -> tuple[Node, dict[str, str]]:
    response = api.get(url)
    assert response.status_code == 200, response.text
    page = parse(response.text)
    return page, submitted_values(the_form(page))


def post(api: TestClient, url: str, data: dict[str, str]) -> Response:
    response: Response = api.post(url, data=data, follow_redirects=False)
    return response


def sessions(db: DbSession, client: Client) -> list[Session]:
    db.expire_all()
    return list(
        db.scalars(
            select(Session).where(Session.client_id == client.id).order_by(Session.starts_at)
        )
    )


def booking(db: DbSession, client: Client, at: datetime) -> Session:
    return make_session(db, client, starts_at=at, attendance=Attendance.SCHEDULED, engagement=None)


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=LONDON).astimezone(UTC)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_of(booked: Session) -> str:
    """The schedule week holding `booked` (just after Monday's midnight, a booking from
    minutes ago is last week's)."""
    return f"/schedule?week={monday_of(booked.starts_at.astimezone(LONDON).date())}"


class TestBook:
    def test_a_series_at_the_clients_rhythm_lands_on_the_schedule(
        self, api: TestClient, db: DbSession, client: Client
    ) -> None:
        url = f"/clients/{client.id}/sessions/book"
        page, values = drawn(api, url)
        assert "every 14 days" in page.by_id("every_days-hint").words()
        first = monday_of(utcnow().astimezone(LONDON).date()) + timedelta(days=7)
        values.update(starts_at_date=first.isoformat(), starts_at_time="10:00", weeks="4")
        response = post(api, url, values)
        assert response.status_code == 303, response.text
        assert response.headers["location"] == f"/schedule?week={first.isoformat()}"
        assert post(api, url, values).status_code == 303  # a double submit books once
        booked = sessions(db, client)
        assert [s.starts_at for s in booked] == [local(first, 10), local(first + timedelta(14), 10)]
        week = parse(api.get(response.headers["location"]).text)
        rows = week.find_all("li", cls="booking")
        assert [r.one("a", cls="booking-client").words() for r in rows] == ["Robin"]

    @pytest.mark.parametrize(
        ("change", "field", "words"),
        [
            ({"weeks": "53"}, "weeks", "at most a year"),
            ({"weeks": "0"}, "weeks", "from 1 to 520"),
            ({"every_days": "400"}, "every_days", "from 1 to 365"),
            ({"starts_at_time": ""}, "starts_at", "date and the time"),
            ({"duration_minutes": "481"}, "duration_minutes", "from 1 to 480"),
        ],
    )
    def test_bad_input_names_the_field_and_books_nothing(
        self,
        api: TestClient,
        db: DbSession,
        client: Client,
        change: dict[str, str],
        field: str,
        words: str,
    ) -> None:
        url = f"/clients/{client.id}/sessions/book"
        _page, values = drawn(api, url)
        values.update(change)
        response = post(api, url, values)
        assert response.status_code == 422
        assert words in parse(response.text).by_id(f"{field}-error").words()
        assert sessions(db, client) == []

    def test_no_booking_in_a_discharged_clients_future(
        self, api: TestClient, db: DbSession, client: Client
    ) -> None:
        client.status = ClientStatus.DISCHARGED
        client.discharged_on = utcnow().astimezone(LONDON).date()
        db.commit()
        url = f"/clients/{client.id}/sessions/book"
        _page, values = drawn(api, url)  # tomorrow by default
        response = post(api, url, values)
        assert response.status_code == 422
        assert "discharged" in parse(response.text).by_id("starts_at-error").words()
        assert sessions(db, client) == []


class TestWeekPage:
    def test_shows_the_week_in_the_practice_zone_with_prev_and_next(
        self, api: TestClient, db: DbSession, owner: User, client: Client
    ) -> None:
        monday = date(2026, 3, 23)  # Europe/London goes to summer time on Sunday 29 March
        booking(db, client, local(monday, 9))
        booking(db, client, local(monday + timedelta(days=6), 9, 30))  # Sunday, in BST
        booking(db, client, local(monday + timedelta(days=7), 9))  # next week
        db.commit()
        page = parse(api.get(f"/schedule?week={(monday + timedelta(days=3)).isoformat()}").text)
        rows = page.find_all("li", cls="booking")
        assert [r.one("span", cls="booking-time").words() for r in rows] == ["09:00", "09:30"]
        sunday = page.one("section", id="day-2026-03-29-card")
        assert sunday.find_all("li", cls="booking")
        hrefs = {a.attrs.get("href") for a in page.find_all("a")}
        assert {"/schedule?week=2026-03-16", "/schedule?week=2026-03-30"} <= hrefs

    def test_a_bad_week_falls_back_with_a_message(self, api: TestClient, csrf: str) -> None:
        response = api.get("/schedule?week=2026-13-45")
        assert response.status_code == 200
        assert "not a date" in parse(response.text).one("p", cls="notice").words()

    @pytest.mark.parametrize("week", ["0001-01-01", "9999-12-31"])
    def test_a_week_outside_the_plausible_range_falls_back(
        self, api: TestClient, csrf: str, week: str
    ) -> None:
        """Issue 12: year 1 has no Monday before it, year 9999 no week after it (was a 500)."""
        response = api.get(f"/schedule?week={week}")
        assert response.status_code == 200
        assert (
            "between 1900-01-01 and 2100-12-31"
            in parse(response.text).one("p", cls="notice").words()
        )

    def test_supervisor_sees_bookings_without_buttons(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        booked = booking(db, client, utcnow() - timedelta(minutes=30))
        boss = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, boss, owner)
        log_in(api, db, settings, boss)
        page = parse(api.get(week_of(booked)).text)
        assert len(page.find_all("li", cls="booking")) == 1
        actions = {f.attrs.get("action") for f in page.find_all("form")}
        assert actions == {"/logout"}

    def test_admin_has_no_schedule(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        admin = make_user(db, settings, Role.ADMIN)
        log_in(api, db, settings, admin)
        assert api.get("/schedule").status_code == 404

    def test_query_count_does_not_grow_with_bookings(
        self,
        api: TestClient,
        db: DbSession,
        owner: User,
        client: Client,
        queries: QueryCounter,
    ) -> None:
        monday = date(2030, 3, 4)
        url = f"/schedule?week={monday.isoformat()}"

        def count() -> int:
            queries.reset()
            assert api.get(url).status_code == 200
            return queries.count

        booking(db, client, local(monday, 9))
        db.commit()
        few = count()
        for i in range(30):
            other = make_client(db, owner)
            booking(db, other, local(monday + timedelta(days=i % 7), 8 + i % 10))
        db.commit()
        assert count() == few


class TestComplete:
    def test_attended_in_one_action_then_notes_on_the_same_record(
        self, api: TestClient, db: DbSession, client: Client
    ) -> None:
        booked = booking(db, client, utcnow() - timedelta(minutes=40))
        db.commit()
        page = parse(api.get(week_of(booked)).text)
        row = page.one("li", data_session=str(booked.id))
        buttons = [b.words() for b in row.find_all("button")]
        assert buttons == ["Attended", "No-show", "Late cancel", "Cancelled"]
        form = next(
            f
            for f in row.find_all("form")
            if submitted_values(f)["attendance"] == Attendance.ATTENDED.value
        )
        response = post(api, form.attrs["action"], submitted_values(form))
        assert response.status_code == 303
        assert response.headers["location"] == f"/sessions/{booked.id}/edit"
        _page, values = drawn(api, f"/sessions/{booked.id}/edit")
        assert values["attendance"] == "attended"
        values.update(engagement="8", homework_completed="yes", notes="Grounding practice")
        assert post(api, f"/sessions/{booked.id}/edit", values).status_code == 303
        (stored,) = sessions(db, client)
        assert (stored.id, stored.attendance, stored.engagement) == (
            booked.id,
            Attendance.ATTENDED,
            8,
        )
        assert (stored.homework_completed, stored.notes) == (
            HomeworkCompletion.YES,
            "Grounding practice",
        )

    def test_a_future_booking_offers_no_attended_button(
        self, api: TestClient, db: DbSession, client: Client
    ) -> None:
        booked = booking(db, client, utcnow() + timedelta(days=1))
        db.commit()
        week = monday_of((utcnow() + timedelta(days=1)).astimezone(LONDON).date())
        page = parse(api.get(f"/schedule?week={week.isoformat()}").text)
        row = page.one("li", data_session=str(booked.id))
        assert [b.words() for b in row.find_all("button")] == [
            "No-show",
            "Late cancel",
            "Cancelled",
        ]

    def test_stale_or_forged_completion_changes_nothing(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        booked = booking(db, client, utcnow() - timedelta(minutes=40))
        db.commit()
        csrf = log_in(api, db, settings, owner)
        url = f"/sessions/{booked.id}/attendance"
        stale = post(api, url, {"csrf_token": csrf, "version": "0", "attendance": "no_show"})
        assert stale.status_code == 409
        forged = post(api, url, {"csrf_token": "x", "version": "1", "attendance": "no_show"})
        assert forged.status_code == 403
        boss = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, boss, owner)
        boss_csrf = log_in(api, db, settings, boss)
        by_boss = post(api, url, {"csrf_token": boss_csrf, "version": "1", "attendance": "no_show"})
        assert by_boss.status_code == 403
        stranger = make_user(db, settings)
        other_csrf = log_in(api, db, settings, stranger)
        hidden = post(api, url, {"csrf_token": other_csrf, "version": "1", "attendance": "no_show"})
        assert hidden.status_code == 404
        assert sessions(db, client)[0].attendance == Attendance.SCHEDULED

    def test_stale_session_edit_shows_both_notes(
        self, api: TestClient, db: DbSession, client: Client
    ) -> None:
        held = make_session(db, client, starts_at=utcnow() - timedelta(days=1), notes="first")
        db.commit()
        _page, mine = drawn(api, f"/sessions/{held.id}/edit")
        _page, theirs = drawn(api, f"/sessions/{held.id}/edit")
        theirs["notes"] = "theirs"
        assert post(api, f"/sessions/{held.id}/edit", theirs).status_code == 303
        mine["notes"] = "mine"
        response = post(api, f"/sessions/{held.id}/edit", mine)
        assert response.status_code == 409
        field = parse(response.text).one("fieldset", data_field="notes")
        assert field.one("span", data_side="mine").words() == "mine"
        assert field.one("span", data_side="theirs").words() == "theirs"
        assert sessions(db, client)[0].notes == "theirs"


class TestLogAtABookedTime:
    def test_offers_to_complete_the_booking_instead_of_a_second_session(
        self, api: TestClient, db: DbSession, client: Client
    ) -> None:
        now = utcnow().replace(second=0, microsecond=0)
        booked = booking(db, client, now - timedelta(minutes=5))
        db.commit()
        url = f"/clients/{client.id}/sessions/new"
        _page, values = drawn(api, url)
        values.update(engagement="6", notes="Logged at the booked time")
        offered = post(api, url, values)
        assert offered.status_code == 200
        assert len(sessions(db, client)) == 1  # nothing saved yet
        page = parse(offered.text)
        choices = submitted_values(the_form(page))
        assert choices["booking"] == str(booked.id)
        done = post(api, url, choices)
        assert done.status_code == 303, done.text
        (stored,) = sessions(db, client)
        assert (stored.id, stored.attendance, stored.engagement, stored.notes) == (
            booked.id,
            Attendance.ATTENDED,
            6,
            "Logged at the booked time",
        )

    def test_choosing_a_separate_session_adds_one(
        self, api: TestClient, db: DbSession, client: Client
    ) -> None:
        booking(db, client, utcnow() - timedelta(minutes=5))
        db.commit()
        url = f"/clients/{client.id}/sessions/new"
        _page, values = drawn(api, url)
        choices = submitted_values(the_form(parse(post(api, url, values).text)))
        choices["booking"] = "new"
        assert post(api, url, choices).status_code == 303
        # The booking stays booked; the new session is the form's "now", after it.
        assert [s.attendance for s in sessions(db, client)] == [
            Attendance.SCHEDULED,
            Attendance.ATTENDED,
        ]

    def test_far_from_any_booking_saves_straight_away(
        self, api: TestClient, db: DbSession, client: Client
    ) -> None:
        booking(db, client, utcnow() - timedelta(hours=3))
        db.commit()
        url = f"/clients/{client.id}/sessions/new"
        _page, values = drawn(api, url)
        assert post(api, url, values).status_code == 303
        assert db.scalar(select(func.count()).select_from(Session)) == 2

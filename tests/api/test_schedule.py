"""The schedule through the JSON API: book one session or a series, list the week, complete.

A series is all or nothing; a series longer than a year, or a booking after a discharged
client's discharge, is a field error (issue 9, "Bad input").
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, Client, Session, User
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import Attendance, ClientStatus, Role
from tests.builders import auth_headers, make_client, make_session, make_user, supervise

# A Monday 09:00 UTC well in the future, so every booking is ahead of the real clock.
FIRST = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings)


@pytest.fixture
def client(db: DbSession, owner: User) -> Client:
    client = make_client(db, owner, session_cadence_days=14)
    db.commit()
    return client


@pytest.fixture
def headers(settings: Settings, owner: User) -> dict[str, str]:
    return auth_headers(settings, owner)


def _series_url(client: Client) -> str:
    return f"/api/v1/clients/{client.id}/sessions/series"


def _sessions(db: DbSession, client: Client) -> list[Session]:
    db.expire_all()
    return list(
        db.scalars(
            select(Session).where(Session.client_id == client.id).order_by(Session.starts_at)
        )
    )


def _booking(db: DbSession, client: Client, at: datetime) -> Session:
    return make_session(db, client, starts_at=at, attendance=Attendance.SCHEDULED, engagement=None)


def _audit(db: DbSession, action: str, entity: str) -> int:
    return (
        db.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == action, AuditEvent.entity == entity)
        )
        or 0
    )


class TestBookSeries:
    def test_weeks_at_the_clients_rhythm(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        # 6 weeks at a 14-day rhythm: bookings on days 0, 14 and 28 (42 days covered).
        response = api.post(
            _series_url(client),
            json={"starts_at": FIRST.isoformat(), "weeks": 6, "kind": "coaching"},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["total"] == 3
        stored = _sessions(db, client)
        assert [s.starts_at for s in stored] == [FIRST + timedelta(days=d) for d in (0, 14, 28)]
        assert {s.attendance for s in stored} == {Attendance.SCHEDULED}
        assert {s.kind.value for s in stored} == {"coaching"}
        assert _audit(db, "book", "session") == 3

    def test_count_and_every_days(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        response = api.post(
            _series_url(client),
            json={"starts_at": FIRST.isoformat(), "count": 4, "every_days": 7},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        assert [s.starts_at for s in _sessions(db, client)] == [
            FIRST + timedelta(weeks=w) for w in range(4)
        ]

    def test_one_booking_when_no_length_given(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        response = api.post(
            _series_url(client), json={"starts_at": FIRST.isoformat()}, headers=headers
        )
        assert response.status_code == 201
        assert len(_sessions(db, client)) == 1

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"weeks": 53}, "weeks"),  # 371 days
            ({"count": 27}, "count"),  # 27 × 14 = 378 days
            ({"count": 13, "every_days": 30}, None),  # 390 days
        ],
    )
    def test_longer_than_a_year_is_refused_and_nothing_is_booked(
        self,
        api: TestClient,
        db: DbSession,
        client: Client,
        headers: dict[str, str],
        body: dict[str, int],
        field: str | None,
    ) -> None:
        response = api.post(
            _series_url(client), json={"starts_at": FIRST.isoformat(), **body}, headers=headers
        )
        assert response.status_code == 422
        detail = response.json()["detail"]
        assert [d["loc"] for d in detail] == [["body", field or "count"]]
        assert "at most a year" in detail[0]["msg"]
        assert _sessions(db, client) == []
        assert _audit(db, "book", "session") == 0

    def test_a_full_year_is_allowed(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        response = api.post(
            _series_url(client),
            json={"starts_at": FIRST.isoformat(), "weeks": 52, "every_days": 7},
            headers=headers,
        )
        assert response.status_code == 201
        assert response.json()["total"] == 52

    def test_weeks_and_count_together_name_count(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        response = api.post(
            _series_url(client),
            json={"starts_at": FIRST.isoformat(), "weeks": 2, "count": 2},
            headers=headers,
        )
        assert response.status_code == 422
        assert [d["loc"] for d in response.json()["detail"]] == [["body", "count"]]

    def test_naive_time_and_bad_ranges_name_their_fields(
        self, api: TestClient, client: Client, headers: dict[str, str]
    ) -> None:
        response = api.post(
            _series_url(client),
            json={"starts_at": "2030-03-04T09:00", "duration_minutes": 0, "every_days": 400},
            headers=headers,
        )
        assert response.status_code == 422
        fields = {d["loc"][-1] for d in response.json()["detail"]}
        assert fields == {"starts_at", "duration_minutes", "every_days"}

    def test_a_series_past_the_discharge_books_nothing(
        self,
        api: TestClient,
        db: DbSession,
        owner: User,
        headers: dict[str, str],
    ) -> None:
        # Discharged on the day of the second booking: the third would be in their future.
        client = make_client(
            db,
            owner,
            status=ClientStatus.DISCHARGED,
            discharged_on=date(2030, 3, 11),
        )
        db.commit()
        response = api.post(
            _series_url(client),
            json={"starts_at": FIRST.isoformat(), "count": 3, "every_days": 7},
            headers=headers,
        )
        assert response.status_code == 422
        detail = response.json()["detail"]
        assert detail[0]["loc"] == ["body", "starts_at"]
        assert "discharged" in detail[0]["msg"]
        assert _sessions(db, client) == []
        ok = api.post(
            _series_url(client),
            json={"starts_at": FIRST.isoformat(), "count": 2, "every_days": 7},
            headers=headers,
        )
        assert ok.status_code == 201

    def test_discharged_without_a_date_has_no_future(
        self, api: TestClient, db: DbSession, owner: User, headers: dict[str, str]
    ) -> None:
        client = make_client(db, owner, status=ClientStatus.DISCHARGED)
        db.commit()
        response = api.post(
            _series_url(client), json={"starts_at": FIRST.isoformat()}, headers=headers
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "starts_at"]

    def test_an_archived_client_cannot_be_booked(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        client.archived_at = utcnow()
        db.commit()
        response = api.post(
            _series_url(client), json={"starts_at": FIRST.isoformat()}, headers=headers
        )
        assert response.status_code == 422
        assert _sessions(db, client) == []


class TestSchedule:
    def test_lists_the_period_across_the_caseload_in_time_order(
        self, api: TestClient, db: DbSession, owner: User, client: Client, headers: dict[str, str]
    ) -> None:
        second = make_client(db, owner, display_name="Bea")
        make_session(db, second, starts_at=FIRST + timedelta(hours=2))
        make_session(db, client, starts_at=FIRST + timedelta(days=1))
        make_session(db, client, starts_at=FIRST + timedelta(days=8))  # next week
        archived = make_session(db, client, starts_at=FIRST + timedelta(hours=1))
        archived.archived_at = utcnow()
        db.commit()
        response = api.get(
            "/api/v1/schedule",
            params={"start": FIRST.isoformat(), "end": (FIRST + timedelta(days=7)).isoformat()},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert [(i["client_display_name"], i["starts_at"]) for i in items] == [
            ("Bea", "2030-03-04T11:00:00Z"),
            (client.display_name, "2030-03-05T09:00:00Z"),
        ]

    def test_other_caseloads_are_not_listed(
        self, api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        make_session(db, client, starts_at=FIRST)
        other = make_user(db, settings)
        boss = make_user(db, settings, Role.SUPERVISOR)
        supervise(db, boss, owner)
        db.commit()
        params = {"start": FIRST.isoformat(), "end": (FIRST + timedelta(days=7)).isoformat()}

        def listed(user: User) -> int:
            response = api.get(
                "/api/v1/schedule", params=params, headers=auth_headers(settings, user)
            )
            return len(response.json()["items"])

        assert (listed(other), listed(boss)) == (0, 1)

    def test_a_period_over_62_days_is_refused(
        self, api: TestClient, headers: dict[str, str]
    ) -> None:
        response = api.get(
            "/api/v1/schedule",
            params={"start": FIRST.isoformat(), "end": (FIRST + timedelta(days=63)).isoformat()},
            headers=headers,
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "end"]


class TestCompleteBooking:
    def test_marks_the_same_record_and_audits(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        booking = _booking(db, client, utcnow() - timedelta(hours=1))
        db.commit()
        response = api.post(
            f"/api/v1/sessions/{booking.id}/attendance",
            json={"attendance": "attended", "version": 1},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["id"] == str(booking.id)
        assert response.json()["version"] == 2
        stored = _sessions(db, client)
        assert [(s.id, s.attendance) for s in stored] == [(booking.id, Attendance.ATTENDED)]
        assert _audit(db, "update", "session") == 1

    def test_stale_version_is_409_and_changes_nothing(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        booking = _booking(db, client, utcnow() - timedelta(hours=1))
        db.commit()
        url = f"/api/v1/sessions/{booking.id}/attendance"
        assert (
            api.post(url, json={"attendance": "no_show", "version": 0}, headers=headers).status_code
            == 409
        )
        assert _sessions(db, client)[0].attendance == Attendance.SCHEDULED

    def test_already_completed_or_scheduled_again_is_a_field_error(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        held = make_session(db, client, starts_at=utcnow() - timedelta(days=1))
        db.commit()
        url = f"/api/v1/sessions/{held.id}/attendance"
        again = api.post(url, json={"attendance": "cancelled", "version": 1}, headers=headers)
        assert again.status_code == 422
        assert again.json()["detail"][0]["loc"] == ["body", "attendance"]
        back = api.post(url, json={"attendance": "scheduled", "version": 1}, headers=headers)
        assert back.status_code == 422
        assert back.json()["detail"][0]["loc"] == ["body", "attendance"]

    def test_a_future_booking_can_be_cancelled_but_not_attended(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
    ) -> None:
        booking = _booking(db, client, FIRST)
        db.commit()
        url = f"/api/v1/sessions/{booking.id}/attendance"
        early = api.post(url, json={"attendance": "attended", "version": 1}, headers=headers)
        assert early.status_code == 422
        assert early.json()["detail"][0]["loc"] == ["body", "attendance"]
        cancel = api.post(url, json={"attendance": "cancelled", "version": 1}, headers=headers)
        assert cancel.status_code == 200, cancel.text
        assert cancel.json()["attendance"] == "cancelled"


def test_text_with_a_nul_is_refused_naming_the_field(
    api: TestClient, db: DbSession, owner: User, headers: dict[str, str]
) -> None:
    """PostgreSQL cannot store NUL in text: every input schema refuses it as a field error."""
    response = api.post(
        "/api/v1/clients", json={"display_name": "Ro\u0000bin", "goals": "ok"}, headers=headers
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [d["loc"] for d in detail] == [["body", "display_name"]]
    assert "NUL" in detail[0]["msg"]
    assert db.scalar(select(func.count()).select_from(Client)) == 0

"""The "Questionnaires" section of the check-in link page: assign with a rhythm, see next due
and overdue, stop; bad input names the field and saves nothing; read-only for a supervisor."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Assignment, Client, User
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import Role
from practice_dashboard.services.analytics.summary import practice_today
from tests.builders import make_client, make_user, supervise
from tests.html import parse
from tests.web.test_log_forms import log_in


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings, Role.THERAPIST)


@pytest.fixture
def client(db: DbSession, owner: User) -> Client:
    client = make_client(db, owner, display_name="Robin")
    db.commit()
    return client


@pytest.fixture
def today(settings: Settings) -> date:
    return practice_today(settings, utcnow())


def _live(db: DbSession, client: Client) -> list[Assignment]:
    db.expire_all()
    return list(
        db.scalars(
            select(Assignment).where(
                Assignment.client_id == client.id, Assignment.archived_at.is_(None)
            )
        )
    )


def test_assign_see_overdue_and_stop(
    api: TestClient,
    db: DbSession,
    settings: Settings,
    owner: User,
    client: Client,
    today: date,
) -> None:
    csrf = log_in(api, db, settings, owner)
    page = parse(api.get(f"/clients/{client.id}/checkin-link").text)
    options = {o.attrs["value"] for o in page.by_id("assign-instrument").find_all("option")}
    assert options == {"phq9", "gad7", "cbi"}  # never ORS/SRS
    started = today - timedelta(days=10)
    response = api.post(
        f"/clients/{client.id}/assignments",
        data={
            "csrf_token": csrf,
            "instrument": "gad7",
            "every_days": "28",
            "starts_on": started.isoformat(),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    (assignment,) = _live(db, client)
    assert (assignment.instrument, assignment.every_days, assignment.starts_on) == (
        "gad7",
        28,
        started,
    )
    page = parse(api.get(response.headers["location"]).text)
    row = page.one("tr", data_instrument="gad7")
    # Never answered, first due 10 days ago: 10 days overdue, past the 3-day grace period.
    assert "overdue by 10 days" in row.words()
    assert "past the 3-day grace period" in row.words()
    stop = api.post(
        f"/clients/{client.id}/assignments/{assignment.id}/stop",
        data={"csrf_token": csrf, "version": "1"},
        follow_redirects=False,
    )
    assert stop.status_code == 303
    assert _live(db, client) == []
    page = parse(api.get(stop.headers["location"]).text)
    assert "No questionnaire is assigned." in page.by_id("questionnaires").words()


@pytest.mark.parametrize(
    ("typed", "field", "words"),
    [
        ({"every_days": "0"}, "every_days", "under a day or over a year"),
        ({"every_days": "400"}, "every_days", "under a day or over a year"),
        ({"every_days": "two"}, "every_days", "whole number of days"),
        ({"instrument": "ors"}, "instrument", "licence forbids electronic forms"),
        ({"ends_on": "2000-01-01"}, "ends_on", "must not be before starts_on"),
        ({"starts_on": "01/02/2026"}, "starts_on", "YYYY-MM-DD"),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(
    api: TestClient,
    db: DbSession,
    settings: Settings,
    owner: User,
    client: Client,
    today: date,
    typed: dict[str, str],
    field: str,
    words: str,
) -> None:
    csrf = log_in(api, db, settings, owner)
    data = {
        "csrf_token": csrf,
        "instrument": "phq9",
        "every_days": "14",
        "starts_on": today.isoformat(),
        **typed,
    }
    response = api.post(f"/clients/{client.id}/assignments", data=data)
    assert response.status_code == 422
    page = parse(response.text)
    error_id = "assign-" + field.replace("_", "-") + "-error"
    assert words in page.by_id(error_id).words()
    assert _live(db, client) == []


def test_a_supervisor_sees_the_assignments_but_no_forms(
    api: TestClient,
    db: DbSession,
    settings: Settings,
    owner: User,
    client: Client,
    today: date,
) -> None:
    boss = make_user(db, settings, Role.SUPERVISOR)
    supervise(db, boss, owner)
    db.add(
        Assignment(
            client_id=client.id,
            instrument="phq9",
            every_days=14,
            starts_on=today,
            created_by_id=owner.id,
        )
    )
    db.commit()
    csrf = log_in(api, db, settings, boss)
    page = parse(api.get(f"/clients/{client.id}/checkin-link").text)
    assert "due today" in page.one("tr", data_instrument="phq9").words()
    assert not page.find_all("form", action=f"/clients/{client.id}/assignments")
    (assignment,) = _live(db, client)
    refused = api.post(
        f"/clients/{client.id}/assignments/{assignment.id}/stop",
        data={"csrf_token": csrf, "version": "1"},
    )
    assert refused.status_code == 403
    assert len(_live(db, client)) == 1

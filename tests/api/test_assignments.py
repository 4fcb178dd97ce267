"""The questionnaire assignment API through the real app: create, list with where each one
stands, change the rhythm with `version`, stop (archive); every bad input is a 422 naming the
field, and nothing is written."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import Assignment, AuditEvent, Client, User
from practice_dashboard.models.base import utcnow
from practice_dashboard.services.analytics.summary import practice_today
from tests.builders import auth_headers, make_client, make_measure, make_user


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings)


@pytest.fixture
def client(db: DbSession, owner: User) -> Client:
    client = make_client(db, owner)
    db.commit()
    return client


@pytest.fixture
def headers(settings: Settings, owner: User) -> dict[str, str]:
    return auth_headers(settings, owner)


@pytest.fixture
def today(settings: Settings) -> date:
    return practice_today(settings, utcnow())


def _url(client: Client) -> str:
    return f"/api/v1/clients/{client.id}/assignments"


def _count(db: DbSession) -> int:
    return db.scalar(select(func.count()).select_from(Assignment)) or 0


def _problems(response: Any) -> dict[str, str]:
    return {str(p["loc"][-1]): p["msg"] for p in response.json()["detail"]}


class TestCreateAndList:
    def test_create_then_list_with_its_status(
        self,
        api: TestClient,
        db: DbSession,
        client: Client,
        headers: dict[str, str],
        today: date,
    ) -> None:
        body = {"instrument": "phq9", "every_days": 14, "starts_on": today.isoformat()}
        created = api.post(_url(client), json=body, headers=headers)
        assert created.status_code == 201, created.text
        read = created.json()
        assert read["instrument"] == "phq9"
        assert read["version"] == 1
        # Never answered and starting today: due today, not overdue (domain/assignments.py).
        assert read["next_due_on"] == today.isoformat()
        assert read["due_now"] is True
        assert read["overdue_days"] == 0
        listed = api.get(_url(client), headers=headers).json()
        assert listed["total"] == 1
        assert listed["items"][0]["id"] == read["id"]
        actions = set(
            db.scalars(select(AuditEvent.action).where(AuditEvent.entity == "assignment"))
        )
        assert actions == {"create", "list"}

    def test_overdue_beyond_the_grace_period(
        self,
        api: TestClient,
        db: DbSession,
        client: Client,
        headers: dict[str, str],
        today: date,
    ) -> None:
        # GAD-7 monthly from 40 days ago, answered 35 days ago: due 35 - 28 = 7 days ago,
        # beyond the default grace period of 3 days.
        started = today - timedelta(days=40)
        make_measure(
            db,
            client,
            instrument="gad7",
            items=[1] * 7,
            total=7,
            severity="mild",
            administered_at=utcnow() - timedelta(days=35),
        )
        db.commit()
        body = {"instrument": "gad7", "every_days": 28, "starts_on": started.isoformat()}
        read = api.post(_url(client), json=body, headers=headers).json()
        assert read["next_due_on"] == (today - timedelta(days=7)).isoformat()
        assert read["overdue_days"] == 7
        assert read["overdue_beyond_grace"] is True

    def test_one_live_assignment_per_instrument(
        self, api: TestClient, db: DbSession, client: Client, headers: dict[str, str], today: date
    ) -> None:
        body = {"instrument": "gad7", "every_days": 28, "starts_on": today.isoformat()}
        assert api.post(_url(client), json=body, headers=headers).status_code == 201
        again = api.post(_url(client), json=body, headers=headers)
        assert again.status_code == 422
        assert "already assigned" in _problems(again)["instrument"]
        assert _count(db) == 1


class TestBadInput:
    @pytest.mark.parametrize(
        ("change", "field", "words"),
        [
            ({"instrument": "ors"}, "instrument", "licence forbids electronic forms"),
            ({"instrument": "srs"}, "instrument", "licence forbids electronic forms"),
            ({"instrument": "bdi"}, "instrument", "unknown instrument"),
            ({"every_days": 0}, "every_days", "under a day or over a year"),
            ({"every_days": 366}, "every_days", "under a day or over a year"),
            ({"every_days": "14"}, "every_days", "integer"),
            ({"ends_on": "2000-01-01"}, "ends_on", "before starts_on"),
            ({"starts_on": "2031-01-01", "ends_on": None}, "starts_on", "within a year"),
            ({"starts_on": "not a date"}, "starts_on", "date"),
            ({"colour": "red"}, "colour", "Extra inputs"),
        ],
    )
    def test_a_422_names_the_field_and_writes_nothing(
        self,
        api: TestClient,
        db: DbSession,
        client: Client,
        headers: dict[str, str],
        today: date,
        change: dict[str, Any],
        field: str,
        words: str,
    ) -> None:
        body = {"instrument": "phq9", "every_days": 14, "starts_on": today.isoformat(), **change}
        response = api.post(_url(client), json=body, headers=headers)
        assert response.status_code == 422, response.text
        assert words in _problems(response)[field]
        assert _count(db) == 0


class TestChangeAndStop:
    @pytest.fixture
    def assignment(
        self, api: TestClient, client: Client, headers: dict[str, str], today: date
    ) -> dict[str, Any]:
        body = {"instrument": "phq9", "every_days": 14, "starts_on": today.isoformat()}
        created: dict[str, Any] = api.post(_url(client), json=body, headers=headers).json()
        return created

    def test_patch_changes_the_rhythm_with_its_version(
        self, api: TestClient, headers: dict[str, str], assignment: dict[str, Any]
    ) -> None:
        url = f"/api/v1/assignments/{assignment['id']}"
        changed = api.patch(url, json={"every_days": 7, "version": 1}, headers=headers)
        assert changed.status_code == 200, changed.text
        assert changed.json()["every_days"] == 7
        assert changed.json()["version"] == 2
        stale = api.patch(url, json={"every_days": 21, "version": 1}, headers=headers)
        assert stale.status_code == 409

    def test_patch_validates_the_merged_dates(
        self,
        api: TestClient,
        headers: dict[str, str],
        assignment: dict[str, Any],
        today: date,
    ) -> None:
        url = f"/api/v1/assignments/{assignment['id']}"
        before = (today - timedelta(days=1)).isoformat()
        response = api.patch(url, json={"ends_on": before, "version": 1}, headers=headers)
        assert response.status_code == 422
        assert "ends_on" in _problems(response)
        for bad in ({"every_days": 400}, {"every_days": None}, {"instrument": "gad7"}):
            response = api.patch(url, json={**bad, "version": 1}, headers=headers)
            assert response.status_code == 422, bad
            assert set(_problems(response)) == set(bad)

    def test_delete_archives(
        self,
        api: TestClient,
        db: DbSession,
        client: Client,
        headers: dict[str, str],
        assignment: dict[str, Any],
    ) -> None:
        url = f"/api/v1/assignments/{assignment['id']}"
        assert api.delete(url + "?version=2", headers=headers).status_code == 409
        stopped = api.delete(url + "?version=1", headers=headers)
        assert stopped.status_code == 200
        assert stopped.json()["archived_at"] is not None
        assert api.get(_url(client), headers=headers).json()["total"] == 0
        assert _count(db) == 1  # kept in the record
        assert (
            api.patch(url, json={"every_days": 7, "version": 1}, headers=headers).status_code == 404
        )

    def test_another_practitioner_gets_404(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        assignment: dict[str, Any],
    ) -> None:
        stranger = make_user(db, settings)
        db.commit()
        url = f"/api/v1/assignments/{assignment['id']}"
        response = api.delete(url, headers=auth_headers(settings, stranger))
        assert response.status_code == 404


class TestEngagementSignal:
    def test_an_overdue_assignment_reaches_the_caseload_and_leaves_when_stopped(
        self,
        api: TestClient,
        settings: Settings,
        client: Client,
        headers: dict[str, str],
        today: date,
    ) -> None:
        # GAD-7 first due 10 days ago, never answered: 10 days overdue > 3 (grace period).
        body = {
            "instrument": "gad7",
            "every_days": 28,
            "starts_on": (today - timedelta(days=10)).isoformat(),
        }
        created = api.post(_url(client), json=body, headers=headers).json()

        def engagement() -> dict[str, Any] | None:
            (row,) = api.get("/api/v1/caseload", headers=headers).json()["items"]
            return next((f for f in row["flags"] if f["code"] == "engagement_risk"), None)

        flag = engagement()
        assert flag is not None
        assert flag["evidence"]["assessment_instrument"] == "GAD-7"
        assert flag["evidence"]["assessment_due_on"] == body["starts_on"]
        assert flag["evidence"]["assessment_days_overdue"] == 10
        metrics = api.get(f"/api/v1/clients/{client.id}/metrics", headers=headers).json()
        assert "engagement_risk" in {f["code"] for f in metrics["flags"]}
        api.delete(f"/api/v1/assignments/{created['id']}?version=1", headers=headers)
        assert engagement() is None

"""POST/GET /api/v1/me/self-checks: a practitioner's own burnout measures, private to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, SelfCheck, User
from practice_dashboard.models.enums import Role
from tests.builders import auth_headers, make_user, supervise

URL = "/api/v1/me/self-checks"
# Work-related items 7-13 at code 3 (75 points) with item 13 reversed (100 - 75 = 25):
# (6 * 75 + 25) / 7 = 67.857; personal codes 2 -> 50; client-related codes 1 -> 25.
HIGH_WORK = [2] * 6 + [3] * 7 + [1] * 6
HIGH_WORK_SCORE = 475 / 7
# Work-related codes 1 with item 13 reversed (75): (6 * 25 + 75) / 7 = 32.143.
LOW_WORK = [1] * 19
LOW_WORK_SCORE = 225 / 7


@dataclass
class People:
    therapist: User
    coach: User
    supervisor: User
    admin: User


@pytest.fixture
def people(db: DbSession, settings: Settings) -> People:
    therapist = make_user(db, settings, Role.THERAPIST, full_name="Tess Therapist")
    coach = make_user(db, settings, Role.COACH, full_name="Cole Coach")
    boss = make_user(db, settings, Role.SUPERVISOR, full_name="Sue Supervisor")
    admin = make_user(db, settings, Role.ADMIN)
    supervise(db, boss, therapist)
    supervise(db, boss, coach)
    db.commit()
    return People(therapist, coach, boss, admin)


def _cbi(items: list[int | None], days_ago: float) -> dict[str, Any]:
    at = datetime.now(UTC) - timedelta(days=days_ago)
    return {"instrument": "cbi", "administered_at": at.isoformat(), "items": items}


def _post(api: TestClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(URL, json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _loads(api: TestClient, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    response = api.get("/api/v1/caseload", headers=headers)
    assert response.status_code == 200, response.text
    return {p["full_name"]: p for p in response.json()["practitioners"]}


class TestRecord:
    def test_a_cbi_is_scored(self, api: TestClient, settings: Settings, people: People) -> None:
        headers = auth_headers(settings, people.therapist)
        created = _post(api, headers, _cbi(HIGH_WORK, 1))
        assert created["practitioner_id"] == str(people.therapist.id)
        assert created["instrument"] == "cbi"
        assert created["items"] == HIGH_WORK
        assert created["total"] is None
        assert created["severity"] is None
        assert created["subscales"] == {
            "personal": 50.0,
            "work_related": pytest.approx(HIGH_WORK_SCORE),
            "client_related": 25.0,
        }

    def test_the_instrument_defaults_to_the_cbi(
        self, api: TestClient, settings: Settings, people: People
    ) -> None:
        headers = auth_headers(settings, people.coach)
        body = _cbi(LOW_WORK, 1)
        del body["instrument"]
        created = _post(api, headers, body)
        assert created["instrument"] == "cbi"
        assert created["subscales"]["work_related"] == pytest.approx(LOW_WORK_SCORE)

    def test_is_audited(
        self, api: TestClient, db: DbSession, settings: Settings, people: People
    ) -> None:
        created = _post(api, auth_headers(settings, people.therapist), _cbi(LOW_WORK, 1))
        events = db.scalars(select(AuditEvent).where(AuditEvent.entity == "self_check")).all()
        assert [(e.action, e.actor_id, e.entity_id, e.client_id) for e in events] == [
            ("create", people.therapist.id, created["id"], None)
        ]

    @pytest.mark.parametrize(
        ("change", "fields"),
        [
            ({"items": [2] * 18}, ["items"]),
            ({"items": [5] + [2] * 18}, ["items"]),
            ({"instrument": "nope"}, ["instrument"]),
            ({"administered_at": "2026-05-01T10:00:00"}, ["administered_at"]),
            ({"practitioner_id": "00000000-0000-7000-8000-000000000000"}, ["practitioner_id"]),
        ],
        ids=["too-few-items", "item-out-of-range", "unknown-instrument", "naive", "owner-field"],
    )
    def test_bad_input_is_422_and_writes_nothing(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        people: People,
        change: dict[str, Any],
        fields: list[str],
    ) -> None:
        body = {**_cbi(LOW_WORK, 1), **change}
        response = api.post(URL, json=body, headers=auth_headers(settings, people.therapist))
        assert response.status_code == 422
        named = [
            next(str(part) for part in e["loc"][1:] if isinstance(part, str))
            for e in response.json()["detail"]
        ]
        assert named == fields
        assert db.scalars(select(SelfCheck)).all() == []

    def test_in_the_future_is_422(
        self, api: TestClient, settings: Settings, people: People
    ) -> None:
        response = api.post(
            URL, json=_cbi(LOW_WORK, -1), headers=auth_headers(settings, people.therapist)
        )
        assert response.status_code == 422
        assert [e["loc"][-1] for e in response.json()["detail"]] == ["administered_at"]

    def test_an_admin_cannot_record_one(
        self, api: TestClient, settings: Settings, people: People
    ) -> None:
        response = api.post(
            URL, json=_cbi(LOW_WORK, 1), headers=auth_headers(settings, people.admin)
        )
        assert response.status_code == 422
        assert [e["loc"][-1] for e in response.json()["detail"]] == ["instrument"]

    def test_anonymous_is_401(self, api: TestClient) -> None:
        assert api.post(URL, json=_cbi(LOW_WORK, 1)).status_code == 401
        assert api.get(URL).status_code == 401


class TestPrivate:
    def test_each_caller_sees_only_their_own_newest_first(
        self, api: TestClient, settings: Settings, people: People
    ) -> None:
        mine = auth_headers(settings, people.therapist)
        older = _post(api, mine, _cbi(LOW_WORK, 10))
        newer = _post(api, mine, _cbi(HIGH_WORK, 2))
        theirs = _post(api, auth_headers(settings, people.coach), _cbi(LOW_WORK, 1))
        page = api.get(URL, headers=mine).json()
        assert [c["id"] for c in page["items"]] == [newer["id"], older["id"]]
        assert (page["total"], page["limit"], page["offset"]) == (2, 50, 0)
        coach_page = api.get(URL, headers=auth_headers(settings, people.coach)).json()
        assert [c["id"] for c in coach_page["items"]] == [theirs["id"]]

    def test_not_even_a_supervisor_reads_a_supervisees_self_checks(
        self, api: TestClient, settings: Settings, people: People
    ) -> None:
        _post(api, auth_headers(settings, people.therapist), _cbi(HIGH_WORK, 1))
        boss_page = api.get(URL, headers=auth_headers(settings, people.supervisor)).json()
        assert boss_page["items"] == []
        assert boss_page["total"] == 0
        admin_page = api.get(URL, headers=auth_headers(settings, people.admin)).json()
        assert admin_page["items"] == []

    def test_paging(self, api: TestClient, settings: Settings, people: People) -> None:
        headers = auth_headers(settings, people.therapist)
        ids = [_post(api, headers, _cbi(LOW_WORK, days))["id"] for days in (5, 4, 3)]
        page = api.get(URL, params={"limit": 1, "offset": 1}, headers=headers).json()
        assert [c["id"] for c in page["items"]] == [ids[1]]
        assert page["total"] == 3


class TestPractitionerLoad:
    def test_a_high_work_related_score_raises_practitioner_load(
        self, api: TestClient, settings: Settings, people: People
    ) -> None:
        headers = auth_headers(settings, people.therapist)
        _post(api, headers, _cbi(HIGH_WORK, 1))
        load = _loads(api, headers)["Tess Therapist"]
        assert load["latest_self_check_cbi_work_related"] == pytest.approx(HIGH_WORK_SCORE)
        flag = load["flag"]
        assert flag["code"] == "practitioner_load"
        assert flag["level"] == "watch"  # one signal
        assert flag["signals"] == ["cbi_work"]
        assert flag["evidence"] == {"self_check_cbi_work_related": pytest.approx(HIGH_WORK_SCORE)}
        assert flag["reasons"] == [
            "Your latest CBI work-related burnout score is 67.9 (at or above 50)"
        ]
        assert "supervision" in flag["suggestion"]

    def test_only_the_latest_self_check_counts(
        self, api: TestClient, settings: Settings, people: People
    ) -> None:
        headers = auth_headers(settings, people.therapist)
        _post(api, headers, _cbi(HIGH_WORK, 20))
        _post(api, headers, _cbi(LOW_WORK, 2))
        load = _loads(api, headers)["Tess Therapist"]
        assert load["latest_self_check_cbi_work_related"] == pytest.approx(LOW_WORK_SCORE)
        assert load["flag"] is None

    def test_exactly_50_is_high(self, api: TestClient, settings: Settings, people: People) -> None:
        headers = auth_headers(settings, people.coach)
        # Work-related codes 2 (50 points) and item 13 at 2 (reversed: 50): exactly 50.
        _post(api, headers, _cbi([0] * 6 + [2] * 7 + [0] * 6, 1))
        load = _loads(api, headers)["Cole Coach"]
        assert load["latest_self_check_cbi_work_related"] == 50.0
        assert load["flag"]["signals"] == ["cbi_work"]

    def test_the_supervisor_sees_it_for_each_supervisee(
        self, api: TestClient, settings: Settings, people: People
    ) -> None:
        _post(api, auth_headers(settings, people.therapist), _cbi(HIGH_WORK, 1))
        _post(api, auth_headers(settings, people.coach), _cbi(LOW_WORK, 1))
        loads = _loads(api, auth_headers(settings, people.supervisor))
        assert list(loads) == ["Sue Supervisor", "Cole Coach", "Tess Therapist"]
        assert loads["Tess Therapist"]["flag"]["code"] == "practitioner_load"
        assert loads["Cole Coach"]["flag"] is None
        assert loads["Sue Supervisor"]["latest_self_check_cbi_work_related"] is None
        # A practitioner's own caseload shows only their own load.
        assert list(_loads(api, auth_headers(settings, people.coach))) == ["Cole Coach"]

    def test_a_phq9_self_check_does_not_count(
        self, api: TestClient, settings: Settings, people: People
    ) -> None:
        headers = auth_headers(settings, people.therapist)
        at = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        created = _post(
            api, headers, {"instrument": "phq9", "administered_at": at, "items": [3] * 9}
        )
        assert (created["total"], created["severity"]) == (27.0, "severe")
        load = _loads(api, headers)["Tess Therapist"]
        assert load["latest_self_check_cbi_work_related"] is None
        assert load["flag"] is None

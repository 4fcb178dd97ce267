"""POST /api/v1/clients/{id}/flags/{code}/acknowledge: a seen flag stays quiet until it changes.

An acknowledgement covers the flag while its level is no higher and every signal now firing
was already firing; a new signal or a higher level makes it speak again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, Client, FlagAcknowledgement, User
from practice_dashboard.models.enums import Attendance, Role
from tests.builders import (
    auth_headers,
    make_client,
    make_measure,
    make_observation,
    make_session,
    make_user,
    supervise,
)


@dataclass
class People:
    owner: User
    other: User
    supervisor: User
    admin: User


@pytest.fixture
def people(db: DbSession, settings: Settings) -> People:
    owner = make_user(db, settings, Role.THERAPIST)
    other = make_user(db, settings, Role.THERAPIST)
    boss = make_user(db, settings, Role.SUPERVISOR)
    admin = make_user(db, settings, Role.ADMIN)
    supervise(db, boss, owner)
    return People(owner, other, boss, admin)


@pytest.fixture
def headers(settings: Settings, people: People) -> dict[str, str]:
    return auth_headers(settings, people.owner)


def _ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def _missed_twice(db: DbSession, owner: User, name: str | None = None) -> Client:
    """An active client with two recent no-shows and nothing attended: engagement watch."""
    extra = {"display_name": name} if name else {}
    client = make_client(db, owner, **extra)
    make_observation(db, client, observed_at=_ago(hours=6))
    for days in (13, 6):
        make_session(
            db, client, starts_at=_ago(days=days), attendance=Attendance.NO_SHOW, engagement=None
        )
    return client


def _missed_and_gap(db: DbSession, owner: User) -> Client:
    """Two no-shows and 27 days since the last attended session: engagement alert."""
    client = make_client(db, owner)
    make_observation(db, client, observed_at=_ago(hours=6))
    make_session(db, client, starts_at=_ago(days=34), engagement=8)
    make_session(db, client, starts_at=_ago(days=27), engagement=8)
    for days in (13, 6):
        make_session(
            db, client, starts_at=_ago(days=days), attendance=Attendance.NO_SHOW, engagement=None
        )
    return client


def _safety(db: DbSession, owner: User) -> Client:
    client = make_client(db, owner)
    make_observation(db, client, observed_at=_ago(hours=6))
    make_measure(db, client, administered_at=_ago(days=2), items=[0] * 8 + [1], total=1.0)
    return client


def _ack_url(client: Client, code: str) -> str:
    return f"/api/v1/clients/{client.id}/flags/{code}/acknowledge"


def _flags(api: TestClient, client: Client, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    response = api.get(f"/api/v1/clients/{client.id}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    return {f["code"]: f for f in response.json()["flags"]}


def _caseload(api: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
    response = api.get("/api/v1/caseload", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["display_name"] for item in response.json()["items"]]


def _ack_count(db: DbSession, client: Client) -> int:
    return (
        db.scalar(
            select(func.count())
            .select_from(FlagAcknowledgement)
            .where(FlagAcknowledgement.client_id == client.id)
        )
        or 0
    )


class TestAcknowledge:
    def test_the_flag_shows_its_acknowledgement(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        client = _missed_twice(db, people.owner)
        db.commit()
        flag = _flags(api, client, headers)["engagement_risk"]
        assert flag["fingerprint"] == "engagement_risk|watch|missed"
        assert flag["acknowledgement"] is None
        response = api.post(
            _ack_url(client, "engagement_risk"),
            json={"note": "  Phoned; new time agreed  ", "fingerprint": flag["fingerprint"]},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        ack = response.json()
        assert ack["level"] == "watch"
        assert ack["fingerprint"] == "engagement_risk|watch|missed"
        assert ack["acknowledged_by_id"] == str(people.owner.id)
        assert ack["note"] == "Phoned; new time agreed"
        shown = _flags(api, client, headers)["engagement_risk"]
        assert shown["level"] == "watch"  # still listed, with its acknowledgement
        assert shown["acknowledgement"] == {
            "id": ack["id"],
            "level": "watch",
            "fingerprint": "engagement_risk|watch|missed",
            "acknowledged_by_id": str(people.owner.id),
            "at": shown["acknowledgement"]["at"],
            "note": "Phoned; new time agreed",
        }
        assert datetime.fromisoformat(shown["acknowledgement"]["at"]) == datetime.fromisoformat(
            ack["at"]
        )
        row = db.scalars(
            select(FlagAcknowledgement).where(FlagAcknowledgement.client_id == client.id)
        ).one()
        assert (row.code, row.level, row.evidence) == (
            "engagement_risk",
            "watch",
            {"missed_due_sessions": 2, "due_sessions": 2},
        )

    def test_a_fingerprint_is_optional_and_a_note_too(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        client = _missed_twice(db, people.owner)
        db.commit()
        response = api.post(_ack_url(client, "engagement_risk"), json={}, headers=headers)
        assert response.status_code == 201, response.text
        assert response.json()["note"] is None
        assert _flags(api, client, headers)["engagement_risk"]["acknowledgement"] is not None

    def test_it_is_audited(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        client = _missed_twice(db, people.owner)
        db.commit()
        ack = api.post(_ack_url(client, "engagement_risk"), json={"note": "ok"}, headers=headers)
        assert ack.status_code == 201
        events = db.scalars(
            select(AuditEvent).where(
                AuditEvent.client_id == client.id, AuditEvent.action == "acknowledge"
            )
        ).all()
        assert [(e.actor_id, e.entity, e.entity_id, e.detail) for e in events] == [
            # No detail: the fingerprint names clinical signals, and admins read the log.
            (people.owner.id, "flag", ack.json()["id"], None)
        ]


class TestCaseloadIgnoresAcknowledgedFlags:
    def test_filters_and_sorting_count_only_unacknowledged_flags(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        seen = _missed_twice(db, people.owner, "Ada")
        _missed_twice(db, people.owner, "Bea")
        quiet = make_client(db, people.owner, display_name="Cy")
        make_observation(db, quiet, observed_at=_ago(hours=6))
        db.commit()
        assert _caseload(api, headers, flag="engagement_risk") == ["Ada", "Bea"]
        assert _caseload(api, headers) == ["Ada", "Bea", "Cy"]  # worst first, then name
        response = api.post(_ack_url(seen, "engagement_risk"), json={}, headers=headers)
        assert response.status_code == 201
        assert _caseload(api, headers, flag="engagement_risk") == ["Bea"]
        assert _caseload(api, headers, level="watch") == ["Bea"]
        # Ada now ranks with the clients without flags (sorted by name among them).
        assert _caseload(api, headers) == ["Bea", "Ada", "Cy"]
        assert _caseload(api, headers, sort="flags", order="asc") == ["Ada", "Cy", "Bea"]
        items = api.get("/api/v1/caseload", headers=headers).json()["items"]
        [ada] = [i for i in items if i["display_name"] == "Ada"]
        [flag] = ada["flags"]
        assert flag["code"] == "engagement_risk"
        assert flag["acknowledgement"]["fingerprint"] == "engagement_risk|watch|missed"


class TestTheFlagSpeaksAgain:
    def test_at_a_higher_level(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        client = _missed_twice(db, people.owner, "Ada")
        db.commit()
        acked = api.post(_ack_url(client, "engagement_risk"), json={}, headers=headers)
        assert acked.status_code == 201
        # An attended session 20 days ago: now also a gap (> 2 x 7 days): alert.
        session = api.post(
            f"/api/v1/clients/{client.id}/sessions",
            json={"starts_at": _ago(days=20).isoformat(), "attendance": "attended"},
            headers=headers,
        )
        assert session.status_code == 201, session.text
        flag = _flags(api, client, headers)["engagement_risk"]
        assert (flag["level"], flag["signals"]) == ("alert", ["missed", "gap"])
        assert flag["acknowledgement"] is None
        assert _caseload(api, headers, flag="engagement_risk", level="alert") == ["Ada"]

    def test_with_a_new_signal_at_the_same_level(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        client = _missed_and_gap(db, people.owner)
        db.commit()
        flag = _flags(api, client, headers)["engagement_risk"]
        assert (flag["level"], flag["signals"]) == ("alert", ["missed", "gap"])
        acked = api.post(
            _ack_url(client, "engagement_risk"),
            json={"fingerprint": flag["fingerprint"]},
            headers=headers,
        )
        assert acked.status_code == 201
        # An attended session 20 days ago rated 3 (usual 8): a new "rating" signal.
        session = api.post(
            f"/api/v1/clients/{client.id}/sessions",
            json={
                "starts_at": _ago(days=20).isoformat(),
                "attendance": "attended",
                "engagement": 3,
            },
            headers=headers,
        )
        assert session.status_code == 201, session.text
        flag = _flags(api, client, headers)["engagement_risk"]
        assert (flag["level"], flag["signals"]) == ("alert", ["missed", "gap", "rating"])
        assert flag["acknowledgement"] is None

    def test_but_not_when_fewer_signals_fire(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        client = _missed_and_gap(db, people.owner)
        db.commit()
        acked = api.post(_ack_url(client, "engagement_risk"), json={}, headers=headers)
        assert acked.json()["level"] == "alert"
        sessions = api.get(
            f"/api/v1/clients/{client.id}/sessions",
            params={"attendance": "no_show"},
            headers=headers,
        ).json()["items"]
        newest = sessions[0]
        patched = api.patch(
            f"/api/v1/sessions/{newest['id']}",
            json={"attendance": "cancelled", "version": newest["version"]},
            headers=headers,
        )
        assert patched.status_code == 200, patched.text
        flag = _flags(api, client, headers)["engagement_risk"]
        assert (flag["level"], flag["signals"]) == ("watch", ["gap"])
        assert flag["acknowledgement"]["id"] == acked.json()["id"]

    def test_safety_speaks_again_on_a_new_phq9(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        client = _safety(db, people.owner)
        db.commit()
        acked = api.post(
            _ack_url(client, "safety"),
            json={"note": "Risk assessment done; safety plan reviewed"},
            headers=headers,
        )
        assert acked.status_code == 201, acked.text
        assert _flags(api, client, headers)["safety"]["acknowledgement"] is not None
        measure = api.post(
            f"/api/v1/clients/{client.id}/measures",
            json={
                "instrument": "phq9",
                "administered_at": _ago(hours=1).isoformat(),
                "items": [0] * 8 + [1],
            },
            headers=headers,
        )
        assert measure.status_code == 201, measure.text
        safety = _flags(api, client, headers)["safety"]
        assert safety["acknowledgement"] is None
        assert safety["evidence"]["administered_at"] == _ago(hours=1).date().isoformat()

    def test_safety_speaks_again_on_a_worse_phq9_the_same_day(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        client = make_client(db, people.owner)
        make_observation(db, client, observed_at=_ago(hours=6))
        first = datetime.now(UTC) - timedelta(minutes=30)
        make_measure(db, client, administered_at=first, items=[0] * 8 + [1], total=1.0)
        db.commit()
        acked = api.post(
            _ack_url(client, "safety"), json={"note": "Spoke at length"}, headers=headers
        )
        assert acked.status_code == 201, acked.text
        # Twenty minutes later, the same day: item 9 answered 3.
        measure = api.post(
            f"/api/v1/clients/{client.id}/measures",
            json={
                "instrument": "phq9",
                "administered_at": (first + timedelta(minutes=20)).isoformat(),
                "items": [0] * 8 + [3],
            },
            headers=headers,
        )
        assert measure.status_code == 201, measure.text
        safety = _flags(api, client, headers)["safety"]
        assert safety["evidence"]["phq9_item9"] == 3
        assert safety["acknowledgement"] is None
        assert _caseload(api, headers, flag="safety") == [client.display_name]


class TestRefused:
    def test_safety_needs_a_note(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        client = _safety(db, people.owner)
        db.commit()
        for body in ({}, {"note": "   "}, {"note": None}):
            response = api.post(_ack_url(client, "safety"), json=body, headers=headers)
            assert response.status_code == 422, body
            assert [e["loc"][-1] for e in response.json()["detail"]] == ["note"]
        assert _ack_count(db, client) == 0
        assert _flags(api, client, headers)["safety"]["acknowledgement"] is None

    def test_a_stale_fingerprint_is_409(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        client = _missed_and_gap(db, people.owner)
        db.commit()
        response = api.post(
            _ack_url(client, "engagement_risk"),
            json={"fingerprint": "engagement_risk|watch|missed", "note": "seen"},
            headers=headers,
        )
        assert response.status_code == 409
        assert _ack_count(db, client) == 0

    def test_a_flag_the_client_does_not_have_is_422(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        client = _missed_twice(db, people.owner)
        db.commit()
        for code in ("burnout_risk", "practitioner_load"):
            response = api.post(_ack_url(client, code), json={"note": "x"}, headers=headers)
            assert response.status_code == 422
            assert [e["loc"][-1] for e in response.json()["detail"]] == ["code"]
        assert _ack_count(db, client) == 0

    def test_an_unknown_code_is_422(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        client = _missed_twice(db, people.owner)
        db.commit()
        response = api.post(_ack_url(client, "bad_mood"), json={}, headers=headers)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["path", "code"]

    def test_unknown_fields_are_422(
        self, api: TestClient, db: DbSession, people: People, headers: dict[str, str]
    ) -> None:
        client = _missed_twice(db, people.owner)
        db.commit()
        response = api.post(
            _ack_url(client, "engagement_risk"), json={"level": "watch"}, headers=headers
        )
        assert response.status_code == 422
        assert _ack_count(db, client) == 0


class TestAccess:
    @pytest.mark.parametrize(
        ("caller", "expected"), [("supervisor", 403), ("other", 404), ("admin", 404)]
    )
    def test_only_the_owner_may_acknowledge(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        people: People,
        caller: str,
        expected: int,
    ) -> None:
        client = _missed_twice(db, people.owner)
        db.commit()
        response = api.post(
            _ack_url(client, "engagement_risk"),
            json={"note": "seen"},
            headers=auth_headers(settings, getattr(people, caller)),
        )
        assert response.status_code == expected
        assert _ack_count(db, client) == 0

    def test_anonymous_is_401(self, api: TestClient, db: DbSession, people: People) -> None:
        client = _missed_twice(db, people.owner)
        db.commit()
        response = api.post(_ack_url(client, "engagement_risk"), json={"note": "seen"})
        assert response.status_code == 401
        assert _ack_count(db, client) == 0

    def test_the_supervisor_sees_the_acknowledgement(
        self,
        api: TestClient,
        db: DbSession,
        settings: Settings,
        people: People,
        headers: dict[str, str],
    ) -> None:
        client = _missed_twice(db, people.owner)
        db.commit()
        acked = api.post(_ack_url(client, "engagement_risk"), json={}, headers=headers)
        assert acked.status_code == 201
        boss = auth_headers(settings, people.supervisor)
        ack = _flags(api, client, boss)["engagement_risk"]["acknowledgement"]
        assert ack["acknowledged_by_id"] == str(people.owner.id)

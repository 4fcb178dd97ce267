"""Un-acknowledging a flag, and acknowledged alerts staying in supervision's view (issue 9, item 7).

Withdrawing an acknowledgement keeps the row (nothing is deleted) and marks it withdrawn, so
the flag speaks again; an acknowledged alert still counts in "active clients with an alert"
and keeps its client among the supervisor's flagged clients.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, Client, FlagAcknowledgement, User
from practice_dashboard.models.enums import Role
from tests.builders import auth_headers, make_client, make_measure, make_observation, make_user
from tests.builders import supervise as link_supervision


def _ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def _safety_client(db: DbSession, owner: User, name: str = "Ada") -> Client:
    """PHQ-9 item 9 answered 1: a safety alert (DESIGN.md, Flags)."""
    client = make_client(db, owner, display_name=name)
    make_observation(db, client, observed_at=_ago(hours=6))
    make_measure(db, client, administered_at=_ago(days=2), items=[0] * 8 + [1], total=1.0)
    return client


def _url(client: Client, code: str, action: str) -> str:
    return f"/api/v1/clients/{client.id}/flags/{code}/{action}"


def _safety_flag(api: TestClient, client: Client, headers: dict[str, str]) -> dict[str, Any]:
    response = api.get(f"/api/v1/clients/{client.id}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    [flag] = [f for f in response.json()["flags"] if f["code"] == "safety"]
    return flag


class TestUnacknowledge:
    def test_the_flag_speaks_again_and_the_row_is_kept(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings, Role.THERAPIST)
        client = _safety_client(db, owner)
        db.commit()
        headers = auth_headers(settings, owner)
        acked = api.post(
            _url(client, "safety", "acknowledge"), json={"note": "Plan made"}, headers=headers
        )
        assert acked.status_code == 201, acked.text
        assert _safety_flag(api, client, headers)["acknowledgement"] is not None

        response = api.post(_url(client, "safety", "unacknowledge"), headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id"] == acked.json()["id"]
        assert body["note"] == "Plan made"
        assert body["withdrawn_by_id"] == str(owner.id)
        assert _safety_flag(api, client, headers)["acknowledgement"] is None
        caseload = api.get("/api/v1/caseload", params={"flag": "safety"}, headers=headers)
        assert [i["display_name"] for i in caseload.json()["items"]] == ["Ada"]
        db.expire_all()
        [row] = db.scalars(
            select(FlagAcknowledgement).where(FlagAcknowledgement.client_id == client.id)
        ).all()
        assert row.withdrawn_at is not None
        assert row.note == "Plan made"

    def test_acknowledging_again_quiets_it_again(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings, Role.THERAPIST)
        client = _safety_client(db, owner)
        db.commit()
        headers = auth_headers(settings, owner)
        for note in ("First", "Second"):
            ack = api.post(
                _url(client, "safety", "acknowledge"), json={"note": note}, headers=headers
            )
            assert ack.status_code == 201
            if note == "First":
                assert (
                    api.post(_url(client, "safety", "unacknowledge"), headers=headers).status_code
                    == 200
                )
        assert _safety_flag(api, client, headers)["acknowledgement"]["note"] == "Second"

    def test_it_is_audited(self, api: TestClient, db: DbSession, settings: Settings) -> None:
        owner = make_user(db, settings, Role.THERAPIST)
        client = _safety_client(db, owner)
        db.commit()
        headers = auth_headers(settings, owner)
        ack_id = api.post(
            _url(client, "safety", "acknowledge"), json={"note": "n"}, headers=headers
        ).json()["id"]
        assert api.post(_url(client, "safety", "unacknowledge"), headers=headers).status_code == 200
        events = db.scalars(
            select(AuditEvent).where(
                AuditEvent.client_id == client.id, AuditEvent.action == "unacknowledge"
            )
        ).all()
        assert [(e.actor_id, e.entity, e.entity_id) for e in events] == [(owner.id, "flag", ack_id)]

    def test_a_flag_that_is_not_acknowledged_is_422_naming_the_code(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings, Role.THERAPIST)
        client = _safety_client(db, owner)
        db.commit()
        headers = auth_headers(settings, owner)
        response = api.post(_url(client, "safety", "unacknowledge"), headers=headers)
        assert response.status_code == 422
        assert [e["loc"][-1] for e in response.json()["detail"]] == ["code"]
        # Twice in a row: the second finds it already withdrawn.
        api.post(_url(client, "safety", "acknowledge"), json={"note": "n"}, headers=headers)
        assert api.post(_url(client, "safety", "unacknowledge"), headers=headers).status_code == 200
        assert api.post(_url(client, "safety", "unacknowledge"), headers=headers).status_code == 422

    @pytest.mark.parametrize(
        ("caller", "expected"),
        [("supervisor", 403), ("other", 404), ("admin", 404), ("anonymous", 401)],
    )
    def test_only_the_owner_may_unacknowledge(
        self, api: TestClient, db: DbSession, settings: Settings, caller: str, expected: int
    ) -> None:
        owner = make_user(db, settings, Role.THERAPIST)
        people = {
            "supervisor": make_user(db, settings, Role.SUPERVISOR),
            "other": make_user(db, settings, Role.THERAPIST),
            "admin": make_user(db, settings, Role.ADMIN),
        }
        link_supervision(db, people["supervisor"], owner)
        client = _safety_client(db, owner)
        db.commit()
        api.post(
            _url(client, "safety", "acknowledge"),
            json={"note": "n"},
            headers=auth_headers(settings, owner),
        )
        headers = {} if caller == "anonymous" else auth_headers(settings, people[caller])
        response = api.post(_url(client, "safety", "unacknowledge"), headers=headers)
        assert response.status_code == expected
        db.expire_all()
        row = db.scalars(
            select(FlagAcknowledgement).where(FlagAcknowledgement.client_id == client.id)
        ).one()
        assert row.withdrawn_at is None


class TestAcknowledgedAlertsStayVisibleToSupervision:
    def test_the_alert_count_and_the_flagged_list_keep_an_acknowledged_alert(
        self, api: TestClient, db: DbSession, settings: Settings
    ) -> None:
        owner = make_user(db, settings, Role.THERAPIST)
        boss = make_user(db, settings, Role.SUPERVISOR)
        link_supervision(db, boss, owner)
        client = _safety_client(db, owner)
        quiet = make_client(db, owner, display_name="Bea")
        make_observation(db, quiet, observed_at=_ago(hours=6))
        db.commit()
        headers = auth_headers(settings, owner)

        def own_load() -> dict[str, Any]:
            body = api.get("/api/v1/caseload", headers=headers).json()
            [load] = [p for p in body["practitioners"] if p["practitioner_id"] == str(owner.id)]
            return load

        assert own_load()["active_clients_with_alert"] == 1
        acked = api.post(_url(client, "safety", "acknowledge"), json={"note": "n"}, headers=headers)
        assert acked.status_code == 201
        # Quiet on the attention list (filters), still one of two clients with an alert.
        assert (
            api.get("/api/v1/caseload", params={"flag": "safety"}, headers=headers).json()["items"]
            == []
        )
        assert own_load()["active_clients_with_alert"] == 1

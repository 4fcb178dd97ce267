"""The check-in link API: POST creates (the URL is in that response only), GET reads its
state, PATCH renews / changes the code / switches "Your progress", DELETE revokes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, CheckinLink, Client, User
from practice_dashboard.models.enums import ClientStatus
from tests.builders import auth_headers, make_client, make_user


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


def _url(client: Client) -> str:
    return f"/api/v1/clients/{client.id}/checkin-link"


def test_create_returns_the_url_once_and_stores_only_hashes(
    api: TestClient, db: DbSession, settings: Settings, client: Client, headers: dict[str, str]
) -> None:
    before = datetime.now(UTC)
    response = api.post(_url(client), json={"code": "2468"}, headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    token = body["url"].rsplit("/c/", 1)[1]
    assert body["state"] == "live"
    expires = datetime.fromisoformat(body["expires_at"])
    assert expires - before >= timedelta(days=settings.checkin_link_days) - timedelta(minutes=1)
    row = db.scalars(select(CheckinLink).where(CheckinLink.client_id == client.id)).one()
    assert token not in (row.token_hash, row.code_hash)
    read = api.get(_url(client), headers=headers)
    assert read.status_code == 200
    assert "url" not in read.json()
    assert token not in read.text
    events = db.scalars(select(AuditEvent).where(AuditEvent.entity == "checkin_link")).all()
    assert {e.action for e in events} == {"create", "read"}
    assert all(token not in (e.detail or "") for e in events)


def test_one_live_link_per_client(
    api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
) -> None:
    first = api.post(_url(client), json={"code": "2468"}, headers=headers).json()
    second = api.post(_url(client), json={"code": "1357"}, headers=headers).json()
    rows = {r.id.hex: r for r in db.scalars(select(CheckinLink))}
    assert rows[first["id"].replace("-", "")].revoked_at is not None
    assert rows[second["id"].replace("-", "")].revoked_at is None
    assert api.get(_url(client), headers=headers).json()["id"] == second["id"]


def test_renew_change_and_revoke(
    api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
) -> None:
    created = api.post(_url(client), json={"code": "2468"}, headers=headers).json()
    renewed = api.patch(_url(client), json={"renew": True, "show_progress": True}, headers=headers)
    assert renewed.status_code == 200
    assert renewed.json()["show_progress"] is True
    assert renewed.json()["expires_at"] >= created["expires_at"]
    revoked = api.delete(_url(client), headers=headers)
    assert revoked.status_code == 200
    assert revoked.json()["state"] == "revoked"
    # Nothing left to revoke or renew.
    assert api.delete(_url(client), headers=headers).status_code == 404
    assert api.patch(_url(client), json={"renew": True}, headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "12"}, "code"),
        ({"code": "123456789"}, "code"),
        ({"code": "12a4"}, "code"),
        ({"code": 2468}, "code"),
        ({}, "code"),
        ({"code": "2468", "token": "mine"}, "token"),
    ],
)
def test_bad_input_names_the_field(
    api: TestClient,
    db: DbSession,
    client: Client,
    headers: dict[str, str],
    body: dict[str, object],
    field: str,
) -> None:
    response = api.post(_url(client), json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert db.scalars(select(CheckinLink)).all() == []


def test_a_discharged_client_gets_no_link_and_its_link_stops_working(
    api: TestClient, db: DbSession, client: Client, headers: dict[str, str]
) -> None:
    api.post(_url(client), json={"code": "2468"}, headers=headers)
    client.status = ClientStatus.DISCHARGED
    client.discharged_on = datetime.now(UTC).date()
    db.commit()
    assert api.get(_url(client), headers=headers).json()["state"] == "client_inactive"
    response = api.post(_url(client), json={"code": "2468"}, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "client_id"]

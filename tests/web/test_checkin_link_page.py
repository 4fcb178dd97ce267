"""The practitioner's check-in link page: create (link and QR shown once), renew, code,
"Your progress", revoke; read-only for a supervisor, hidden from everyone else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import CheckinLink, Client, User
from practice_dashboard.models.enums import Role
from practice_dashboard.services.checkins.links import token_hash
from tests.builders import make_checkin_link, make_client, make_user, supervise
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


def _links(db: DbSession, client: Client) -> list[CheckinLink]:
    db.expire_all()
    return list(db.scalars(select(CheckinLink).where(CheckinLink.client_id == client.id)))


def test_create_shows_the_link_and_its_qr_code_once(
    api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
) -> None:
    csrf = log_in(api, db, settings, owner)
    response = api.post(
        f"/clients/{client.id}/checkin-link", data={"csrf_token": csrf, "code": "4821"}
    )
    assert response.status_code == 200, response.text
    page = parse(response.text)
    url = page.by_id("new-link-url").attrs["value"]
    assert url.startswith("http://testserver/c/")
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 43  # token_urlsafe(32): 256 bits
    svg = page.one("svg")
    assert svg.attrs["role"] == "img"
    (link,) = _links(db, client)
    assert link.token_hash == token_hash(token)
    assert token not in link.code_hash
    assert link.code_hash.startswith("$argon2id$")
    # Shown once: the page read again shows the state, never the link.
    again = api.get(f"/clients/{client.id}/checkin-link")
    assert token not in again.text
    assert parse(again.text).by_id("link-state").words() == "working"


def test_a_new_link_replaces_the_old_one(
    api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
) -> None:
    old_token, old = make_checkin_link(db, settings, client)
    db.commit()
    csrf = log_in(api, db, settings, owner)
    api.post(f"/clients/{client.id}/checkin-link", data={"csrf_token": csrf, "code": "4821"})
    links = _links(db, client)
    assert len(links) == 2
    assert [link.revoked_at is None for link in links if link.id == old.id] == [False]
    assert api.get(f"/c/{old_token}").status_code == 404


def test_bad_code_is_named(
    api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
) -> None:
    csrf = log_in(api, db, settings, owner)
    for code in ("12", "123456789", "12a4", "١٢٣٤"):
        response = api.post(
            f"/clients/{client.id}/checkin-link", data={"csrf_token": csrf, "code": code}
        )
        assert response.status_code == 422, code
        assert parse(response.text).by_id("new-code-error").words()
    assert _links(db, client) == []


def test_renew_code_progress_and_revoke(
    api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
) -> None:
    token, link = make_checkin_link(
        db, settings, client, expires_at=datetime.now(UTC) + timedelta(days=3)
    )
    db.commit()
    csrf = log_in(api, db, settings, owner)
    url = f"/clients/{client.id}/checkin-link/change"
    for data in (
        {"action": "renew"},
        {"action": "code", "code": "97531"},
        {"action": "progress", "show_progress": "on"},
    ):
        response = api.post(url, data={"csrf_token": csrf, **data}, follow_redirects=False)
        assert response.status_code == 303, (data, response.text)
    db.refresh(link)
    assert link.expires_at > datetime.now(UTC) + timedelta(days=settings.checkin_link_days - 1)
    assert link.show_progress
    old_hash = link.code_hash
    api.post(url, data={"csrf_token": csrf, "action": "revoke"})
    db.refresh(link)
    assert link.revoked_at is not None
    assert link.code_hash == old_hash
    assert api.get(f"/c/{token}").status_code == 404
    # Without the CSRF token nothing changes.
    assert api.post(url, data={"action": "renew"}).status_code == 403


def test_supervisor_reads_the_state_only_and_others_see_nothing(
    api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
) -> None:
    boss = make_user(db, settings, Role.SUPERVISOR)
    supervise(db, boss, owner)
    stranger = make_user(db, settings, Role.THERAPIST)
    make_checkin_link(db, settings, client)
    db.commit()
    csrf = log_in(api, db, settings, boss)
    page = parse(api.get(f"/clients/{client.id}/checkin-link").text)
    assert page.by_id("link-state").words() == "working"
    assert not page.find_all("form", action=f"/clients/{client.id}/checkin-link")
    response = api.post(
        f"/clients/{client.id}/checkin-link", data={"csrf_token": csrf, "code": "4821"}
    )
    assert response.status_code == 403
    api.cookies.clear()
    log_in(api, db, settings, stranger)
    assert api.get(f"/clients/{client.id}/checkin-link").status_code == 404


def test_the_client_page_says_when_the_link_was_last_used(
    api: TestClient, db: DbSession, settings: Settings, owner: User, client: Client
) -> None:
    log_in(api, db, settings, owner)
    page = parse(api.get(f"/clients/{client.id}").text)
    assert page.by_id("checkin-link-state").words() == "Check-in link: none yet"
    make_checkin_link(db, settings, client, last_used_at=datetime(2026, 6, 1, 11, 0, tzinfo=UTC))
    db.commit()
    page = parse(api.get(f"/clients/{client.id}").text)
    # 11:00 UTC is 12:00 in London (summer time), the practice's time zone.
    assert page.by_id("checkin-link-state").words() == (
        "Check-in link: working, last used 01 Jun 2026 12:00"
    )

"""bench.signed_in_floor: floors 1s and 2s ask for their rows as the product's own reads of a
client are (signed in, scoped, audited) and answer with exactly the planned size."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from bench.ceiling_app import PagePlan, Plan
from bench.signed_in_floor import signed_in_floors
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker

from practice_dashboard.app import create_app
from practice_dashboard.config import Settings
from practice_dashboard.models import AuditEvent, Client, User
from tests.builders import auth_headers, login_cookies, make_client, make_user
from tests.conftest import reset_app

SIZE = 3_000


@pytest.fixture
def floors(
    settings: Settings, session_factory: sessionmaker[OrmSession], db: OrmSession
) -> Iterator[TestClient]:
    """An app of its own with the floors mounted (not the run's shared app, whose routes other
    tests check), on this test's transaction; the plan reads the client table."""
    statement = str(select(Client.id, Client.display_name).compile(db.get_bind()))
    plan = Plan(pages={name: PagePlan([(statement, ())], SIZE) for name in ("client", "metrics")})
    app: FastAPI = reset_app(create_app(settings), settings, session_factory)
    app.include_router(signed_in_floors(plan))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def owner(db: OrmSession, settings: Settings) -> User:
    return make_user(db, settings)


def audited(db: OrmSession, client: Client) -> list[str]:
    return list(db.scalars(select(AuditEvent.entity).where(AuditEvent.client_id == client.id)))


def test_the_page_floor_signs_in_finds_the_client_and_audits_the_read(
    floors: TestClient, db: OrmSession, settings: Settings, owner: User
) -> None:
    client = make_client(db, owner, display_name="Floor client")
    cookies, _ = login_cookies(db, settings, owner)
    db.commit()
    floors.cookies.update(cookies)
    response = floors.get(f"/bench-floor/page/{client.id}")
    assert response.status_code == 200
    assert len(response.content) == SIZE
    # The client table's rows, as the raw cursor hands them back (ids as the engine stores them).
    assert "Floor client" in {name for _id, name in json.loads(response.content)["rows"]}
    assert audited(db, client) == ["client"]


def test_the_metrics_floor_takes_the_bearer_token(
    floors: TestClient, db: OrmSession, settings: Settings, owner: User
) -> None:
    client = make_client(db, owner)
    db.commit()
    response = floors.get(
        f"/bench-floor/metrics/{client.id}", headers=auth_headers(settings, owner)
    )
    assert response.status_code == 200
    assert len(response.content) == SIZE
    assert audited(db, client) == ["metrics"]


def test_no_sign_in_or_another_practitioners_client_is_refused_and_nothing_read_is_audited(
    floors: TestClient, db: OrmSession, settings: Settings, owner: User
) -> None:
    theirs = make_client(db, make_user(db, settings))
    mine = make_client(db, owner)
    cookies, _ = login_cookies(db, settings, owner)
    db.commit()
    assert floors.get(f"/bench-floor/metrics/{mine.id}").status_code == 401
    page = floors.get(f"/bench-floor/page/{mine.id}", follow_redirects=False)
    assert page.status_code == 303  # to the login page, as every page without a login
    assert page.headers["location"].startswith("/login")
    floors.cookies.update(cookies)
    assert floors.get(f"/bench-floor/page/{theirs.id}").status_code == 404
    missing = floors.get(
        f"/bench-floor/metrics/{uuid.uuid4()}", headers=auth_headers(settings, owner)
    )
    assert missing.status_code == 404
    assert audited(db, mine) == []
    assert "read" not in set(db.scalars(select(AuditEvent.action)))

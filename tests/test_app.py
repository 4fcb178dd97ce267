"""How create_app assembles the app: forwarded headers are believed only from the proxy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker

from practice_dashboard.app import create_app
from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import AuditEvent, User
from tests.builders import make_user
from tests.conftest import make_settings

TOKEN = "/api/v1/auth/token"
PEER = "198.51.100.7"
FORGED = "10.66.66.66"

Connect = Callable[..., TestClient]


@pytest.fixture
def user(db: DbSession, settings: Settings) -> User:
    user = make_user(db, settings)
    db.commit()
    return user


@pytest.fixture
def connect(database_url: str, session_factory: sessionmaker[OrmSession]) -> Iterator[Connect]:
    """A test client for an app with these settings, connecting from `peer`."""
    clients: list[TestClient] = []

    def make(peer: str, **overrides: Any) -> TestClient:
        app = create_app(make_settings(database_url, **overrides))
        app.state.session_factory = session_factory
        client = TestClient(app, client=(peer, 50000))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _fail(client: TestClient, user: User, forwarded_for: str) -> int:
    response = client.post(
        TOKEN,
        data={"username": user.email, "password": "wrong password"},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return response.status_code


def _recorded_addresses(db: DbSession, user: User) -> list[str | None]:
    db.expire_all()
    return list(
        db.scalars(
            select(AuditEvent.ip).where(
                AuditEvent.action == "login_failed", AuditEvent.entity_id == str(user.id)
            )
        )
    )


class TestForwardedHeaders:
    def test_a_forged_address_from_an_untrusted_peer_is_not_recorded(
        self, connect: Connect, db: DbSession, user: User
    ) -> None:
        assert _fail(connect(PEER), user, FORGED) == 401
        assert _recorded_addresses(db, user) == [PEER]

    def test_forging_a_new_address_each_time_does_not_escape_the_throttle(
        self, connect: Connect, settings: Settings, user: User
    ) -> None:
        client = connect(PEER)
        for n in range(settings.login_free_attempts):
            assert _fail(client, user, f"10.0.0.{n + 1}") == 401
        assert _fail(client, user, "10.0.0.99") == 429

    def test_the_configured_proxy_is_believed(
        self, connect: Connect, db: DbSession, user: User
    ) -> None:
        # The default trusts a proxy on the same machine.
        assert _fail(connect("127.0.0.1"), user, "203.0.113.9") == 401
        assert _recorded_addresses(db, user) == ["203.0.113.9"]

    def test_behind_the_proxy_the_clients_own_header_is_not_believed(
        self, connect: Connect, db: DbSession, user: User
    ) -> None:
        # The proxy appends the address it saw; what the client sent before it is forged.
        client = connect("172.28.0.10", forwarded_allow_ips="172.28.0.0/24")
        assert _fail(client, user, f"{FORGED}, 203.0.113.9") == 401
        assert _recorded_addresses(db, user) == ["203.0.113.9"]

    def test_empty_trusts_nobody(self, connect: Connect, db: DbSession, user: User) -> None:
        assert _fail(connect("127.0.0.1", forwarded_allow_ips=""), user, FORGED) == 401
        assert _recorded_addresses(db, user) == ["127.0.0.1"]

    def test_https_from_the_proxy_makes_the_login_cookie_secure(
        self, connect: Connect, user: User
    ) -> None:
        for peer, secure in (("127.0.0.1", True), (PEER, False)):
            client = connect(peer)
            page = client.get("/login", headers={"X-Forwarded-Proto": "https"})
            cookie = page.headers["set-cookie"]
            assert ("Secure" in cookie) is secure, peer

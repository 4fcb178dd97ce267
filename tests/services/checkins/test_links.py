"""Check-in links in the service layer: states, the code's throttling, the one-live rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import CheckinLink, Client, User
from practice_dashboard.models.enums import ClientStatus
from practice_dashboard.security import backoff_seconds
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.checkins import links
from tests.builders import CHECKIN_CODE, make_checkin_link, make_client, make_user
from tests.conftest import QueryCounter

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def owner(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings)


@pytest.fixture
def client(db: DbSession, owner: User) -> Client:
    return make_client(db, owner)


def test_backoff_is_free_then_doubles_to_its_ceiling() -> None:
    # The rule in security.backoff_seconds: `free` attempts, then 1 s doubling, capped.
    waits = [backoff_seconds(n, free_attempts=5, max_delay_seconds=900) for n in range(4, 17)]
    assert waits == [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]


def test_state_of_a_link(db: DbSession, settings: Settings, client: Client) -> None:
    _, link = make_checkin_link(db, settings, client, expires_at=NOW + timedelta(days=1))
    assert links.state_of(link, client, NOW) == "live"
    assert links.state_of(link, client, NOW + timedelta(days=1)) == "expired"
    client.status = ClientStatus.DISCHARGED
    assert links.state_of(link, client, NOW) == "client_inactive"
    link.revoked_at = NOW
    assert links.state_of(link, client, NOW) == "revoked"


def test_open_link_answers_none_alike(db: DbSession, settings: Settings, client: Client) -> None:
    token, link = make_checkin_link(db, settings, client, expires_at=NOW + timedelta(days=1))
    assert links.open_link(db, token=token, now=NOW) is link
    assert links.open_link(db, token=token, now=NOW + timedelta(days=2)) is None
    assert links.open_link(db, token=token + "x", now=NOW) is None
    assert links.open_link(db, token="", now=NOW) is None


def test_code_throttling_per_link(db: DbSession, settings: Settings, client: Client) -> None:
    _, link = make_checkin_link(db, settings, client, expires_at=NOW + timedelta(days=1))
    now = NOW
    outcomes = []
    for _ in range(settings.checkin_code_free_attempts + 2):
        outcome = links.check_code(db, settings, link=link, code="0000", now=now, ip=None)
        outcomes.append(outcome.retry_after)
        now = link.locked_until or now
    # Free attempts, then 1 s, then 2 s (each tried the moment the previous wait ended).
    assert outcomes == [0, 0, 0, 0, 1, 2, 4][: len(outcomes)]
    # During a wait even the right code is not checked.
    waiting = links.check_code(
        db, settings, link=link, code=CHECKIN_CODE, now=now - timedelta(seconds=1), ip=None
    )
    assert (waiting.accepted, waiting.retry_after) == (False, 1)
    accepted = links.check_code(db, settings, link=link, code=CHECKIN_CODE, now=now, ip=None)
    assert accepted.accepted
    assert (link.failed_code_attempts, link.locked_until, link.last_used_at) == (0, None, now)


def test_the_database_allows_one_unrevoked_link_per_client(
    db: DbSession, settings: Settings, client: Client
) -> None:
    make_checkin_link(db, settings, client)
    with pytest.raises(IntegrityError):
        make_checkin_link(db, settings, client)
    db.rollback()


def test_a_revoked_link_does_not_count(db: DbSession, settings: Settings, client: Client) -> None:
    _, old = make_checkin_link(db, settings, client, revoked_at=NOW)
    _, new = make_checkin_link(db, settings, client)
    assert isinstance(old, CheckinLink)
    assert new.revoked_at is None


class TestFindLink:
    """The client page's link panel: the unrevoked link, or else the latest, in one query."""

    def test_the_unrevoked_link_comes_before_a_later_revoked_one(
        self, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        _, live = make_checkin_link(db, settings, client, created_at=NOW - timedelta(days=2))
        make_checkin_link(db, settings, client, created_at=NOW - timedelta(days=1), revoked_at=NOW)
        view = links.find_link(db, client_id=client.id, actor=Actor(owner), now=NOW)
        assert view is not None
        assert view.link is live

    def test_without_an_unrevoked_link_the_latest_one(
        self, db: DbSession, settings: Settings, owner: User, client: Client
    ) -> None:
        make_checkin_link(db, settings, client, created_at=NOW - timedelta(days=3), revoked_at=NOW)
        _, latest = make_checkin_link(
            db, settings, client, created_at=NOW - timedelta(days=1), revoked_at=NOW
        )
        view = links.find_link(db, client_id=client.id, actor=Actor(owner), now=NOW)
        assert view is not None
        assert view.link is latest
        assert view.state == "revoked"

    def test_none_without_a_link(self, db: DbSession, owner: User, client: Client) -> None:
        assert links.find_link(db, client_id=client.id, actor=Actor(owner), now=NOW) is None

    def test_one_query_when_the_caller_already_read_the_client(
        self, db: DbSession, owner: User, client: Client, queries: QueryCounter
    ) -> None:
        queries.reset()
        links.find_link(db, client_id=client.id, actor=Actor(owner), now=NOW, client=client)
        assert queries.count == 1, queries.statements

"""Login throttling per (e-mail, source address) and per source, through the real app.

The owner of an account is never kept out by another source's guesses; the guessing source
waits, even with the right password; a source spraying many e-mails waits; unknown e-mails get
exactly the answers accounts get.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker

from practice_dashboard.app import create_app
from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession, create_db_engine, create_session_factory, session_scope
from practice_dashboard.models import LoginFailure, User
from practice_dashboard.models.enums import Role
from practice_dashboard.services.accounts import login_throttle
from tests.builders import PASSWORD, make_user
from tests.conftest import make_settings
from tests.databases import migrated_database

TOKEN = "/api/v1/auth/token"
BAD_LOGIN = {"detail": "Incorrect e-mail or password"}
ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"

Client = Callable[[str], TestClient]


def _login(client: TestClient, email: str, password: str) -> Response:
    return client.post(TOKEN, data={"username": email, "password": password})


def _counters(db: DbSession) -> dict[str, LoginFailure]:
    db.expire_all()
    return {row.key: row for row in db.scalars(select(LoginFailure))}


def _age(db: DbSession, seconds: float) -> None:
    """Move every recorded failure `seconds` into the past (the wait runs out)."""
    for row in _counters(db).values():
        row.last_failed_at -= timedelta(seconds=seconds)
    db.commit()


@pytest.fixture
def user(db: DbSession, settings: Settings) -> User:
    user = make_user(db, settings, Role.THERAPIST, email="robin@example.org")
    db.commit()
    return user


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Freeze the login clock, so throttle windows do not depend on how fast the suite runs."""
    frozen = datetime.now(UTC).replace(microsecond=0)
    monkeypatch.setattr("practice_dashboard.api.routes.auth.utcnow", lambda: frozen)
    monkeypatch.setattr("practice_dashboard.web.routes.auth.utcnow", lambda: frozen)
    return frozen


@pytest.fixture
def from_address(app: FastAPI) -> Iterator[Client]:
    """Test clients connecting from a given address (the app sees it as the peer)."""
    clients: list[TestClient] = []

    def make(address: str) -> TestClient:
        client = TestClient(app, client=(address, 50000))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


class TestThePairWaits:
    def _fail(self, client: TestClient, email: str, times: int) -> None:
        for _ in range(times):
            assert _login(client, email, "wrong password").status_code == 401

    def test_each_failure_counts_on_the_pair_and_on_the_source(
        self, api: TestClient, db: DbSession, settings: Settings, user: User, clock: datetime
    ) -> None:
        self._fail(api, user.email, 2)
        keys = login_throttle.keys_for(settings, email="  ROBIN@example.org", ip="testclient")
        counters = _counters(db)
        assert set(counters) == {keys.pair, keys.source}
        assert {(c.failures, c.last_failed_at) for c in counters.values()} == {(2, clock)}
        # Keyed hashes: the table names neither the e-mail nor the address.
        assert all(len(key) == 64 and "robin" not in key for key in counters)

    def test_after_the_free_attempts_the_pair_waits_even_with_the_right_password(
        self, api: TestClient, db: DbSession, settings: Settings, user: User, clock: datetime
    ) -> None:
        self._fail(api, user.email, settings.login_free_attempts)
        for password in ("wrong password", PASSWORD):  # the right one is not even checked
            response = _login(api, user.email, password)
            assert response.status_code == 429
            assert response.headers["retry-after"] == "1"
            assert response.json() == {"detail": "Too many failed attempts; try again in 1 seconds"}
        counts = {c.failures for c in _counters(db).values()}
        assert counts == {settings.login_free_attempts}

    def test_the_wait_expires_and_the_right_password_clears_the_pair(
        self, api: TestClient, db: DbSession, settings: Settings, user: User, clock: datetime
    ) -> None:
        self._fail(api, user.email, settings.login_free_attempts)
        assert _login(api, user.email, PASSWORD).status_code == 429
        _age(db, 1)
        assert _login(api, user.email, PASSWORD).status_code == 200
        keys = login_throttle.keys_for(settings, email=user.email, ip="testclient")
        counters = _counters(db)
        # The source's count stays: a spraying source cannot reset it with an account of its own.
        assert set(counters) == {keys.source}
        assert counters[keys.source].failures == settings.login_free_attempts

    def test_the_wait_doubles_with_each_further_failure(
        self, api: TestClient, db: DbSession, settings: Settings, user: User, clock: datetime
    ) -> None:
        self._fail(api, user.email, settings.login_free_attempts)
        for expected_wait in (2, 4, 8):
            _age(db, expected_wait // 2)
            assert _login(api, user.email, "wrong password").status_code == 401
            response = _login(api, user.email, PASSWORD)
            assert response.status_code == 429
            assert response.headers["retry-after"] == str(expected_wait)

    def test_no_permanent_lockout(
        self, api: TestClient, db: DbSession, settings: Settings, user: User, clock: datetime
    ) -> None:
        self._fail(api, user.email, 1)
        for row in _counters(db).values():
            row.failures = 10_000
        db.commit()
        response = _login(api, user.email, PASSWORD)
        assert response.status_code == 429
        assert response.headers["retry-after"] == str(settings.login_max_delay_seconds)
        _age(db, settings.login_max_delay_seconds)
        assert _login(api, user.email, PASSWORD).status_code == 200

    def test_a_quiet_day_forgets_the_failures(
        self, api: TestClient, db: DbSession, settings: Settings, user: User, clock: datetime
    ) -> None:
        self._fail(api, user.email, settings.login_free_attempts)
        assert _login(api, user.email, PASSWORD).status_code == 429
        _age(db, settings.login_failure_forget_hours * 3600 + 1)
        # Counted from zero again: a full set of free attempts, none of them throttled.
        self._fail(api, user.email, settings.login_free_attempts)
        counters = _counters(db)
        assert {c.failures for c in counters.values()} == {settings.login_free_attempts}

    def test_a_correct_login_before_the_limit_starts_the_count_again(
        self, api: TestClient, settings: Settings, user: User, clock: datetime
    ) -> None:
        self._fail(api, user.email, settings.login_free_attempts - 1)
        assert _login(api, user.email, PASSWORD).status_code == 200
        self._fail(api, user.email, settings.login_free_attempts - 1)
        assert _login(api, user.email, PASSWORD).status_code == 200


class TestTheOwnerIsNeverLockedOut:
    def test_guesses_from_one_source_do_not_keep_the_owner_out(
        self,
        from_address: Client,
        db: DbSession,
        settings: Settings,
        user: User,
        clock: datetime,
    ) -> None:
        attacker, owner = from_address(ATTACKER), from_address(OWNER)
        # The attack: a few wrong guesses every hour, for hours on end.
        for _hour in range(3):
            answers = [
                _login(attacker, user.email, "guess").status_code
                for _ in range(settings.login_free_attempts + 1)
            ]
            assert 429 in answers
            assert _login(attacker, user.email, PASSWORD).status_code == 429
            assert _login(owner, user.email, PASSWORD).status_code == 200
            _age(db, 3600)

    def test_the_owner_failing_too_waits_only_on_their_own_count(
        self, from_address: Client, settings: Settings, user: User, clock: datetime
    ) -> None:
        attacker, owner = from_address(ATTACKER), from_address(OWNER)
        for _ in range(settings.login_free_attempts):
            assert _login(attacker, user.email, "guess").status_code == 401
        for _ in range(settings.login_free_attempts - 1):  # the owner mistypes, a few times
            assert _login(owner, user.email, "typo").status_code == 401
        assert _login(owner, user.email, PASSWORD).status_code == 200
        assert _login(attacker, user.email, PASSWORD).status_code == 429

    def test_an_ipv6_client_cannot_escape_by_changing_address_within_its_64(
        self, from_address: Client, settings: Settings, user: User, clock: datetime
    ) -> None:
        for n in range(settings.login_free_attempts):
            client = from_address(f"2001:db8:1:2::{n + 1:x}")
            assert _login(client, user.email, "guess").status_code == 401
        assert _login(from_address("2001:db8:1:2::beef"), user.email, PASSWORD).status_code == 429
        assert _login(from_address("2001:db8:1:3::1"), user.email, PASSWORD).status_code == 200


class TestSpraying:
    @pytest.fixture
    def strict_app(
        self, database_url: str, session_factory: sessionmaker[OrmSession]
    ) -> Iterator[tuple[TestClient, Settings]]:
        settings = make_settings(database_url, login_source_free_attempts=3)
        app = create_app(settings)
        app.state.session_factory = session_factory
        with TestClient(app, client=(ATTACKER, 50000)) as client:
            yield client, settings

    def test_a_source_failing_across_many_emails_waits_for_all_of_them(
        self,
        strict_app: tuple[TestClient, Settings],
        db: DbSession,
        user: User,
        clock: datetime,
    ) -> None:
        client, settings = strict_app
        for n in range(settings.login_source_free_attempts):  # one guess per e-mail
            assert _login(client, f"someone{n}@example.org", "guess").status_code == 401
        response = _login(client, user.email, PASSWORD)
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1"

    def test_an_office_behind_one_address_mistyping_now_and_then_never_waits(
        self,
        strict_app: tuple[TestClient, Settings],
        db: DbSession,
        user: User,
        clock: datetime,
    ) -> None:
        client, settings = strict_app
        # Far more failures than the source's free attempts, but one every 5 minutes: each
        # quiet spell forgives more than the one failure before it.
        gap = 5 * 60
        assert gap > settings.login_source_forgive_minutes * 60
        for n in range(settings.login_source_free_attempts * 4):
            assert _login(client, f"colleague{n % 3}@example.org", "typo").status_code == 401
            _age(db, gap)
        assert _login(client, user.email, PASSWORD).status_code == 200


class TestUnknownAndKnownAlike:
    def _answers(self, client: TestClient, email: str, attempts: int) -> list[Response]:
        return [_login(client, email, f"guess {n}") for n in range(attempts)]

    def test_the_same_answers_from_the_first_to_the_eighth_guess(
        self, from_address: Client, settings: Settings, user: User, clock: datetime
    ) -> None:
        known = self._answers(from_address(ATTACKER), user.email, 8)
        unknown = self._answers(from_address(OWNER), "nobody@example.org", 8)

        def shape(response: Response) -> tuple[int, Any, dict[str, str]]:
            headers = {k: v for k, v in response.headers.items() if k != "date"}
            return response.status_code, response.json(), headers

        assert [shape(r) for r in known] == [shape(r) for r in unknown]
        free = settings.login_free_attempts
        assert [r.status_code for r in known] == [401] * free + [429] * (8 - free)
        assert known[0].json() == BAD_LOGIN

    def test_both_run_the_argon2_check_and_a_throttled_guess_runs_none(
        self,
        from_address: Client,
        monkeypatch: pytest.MonkeyPatch,
        settings: Settings,
        user: User,
        clock: datetime,
    ) -> None:
        checks: list[str] = []
        verify = PasswordHasher.verify

        def counting(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
            checks.append("verify")
            return verify(self, hash, password)

        monkeypatch.setattr(PasswordHasher, "verify", counting)
        for email, address in ((user.email, ATTACKER), ("nobody@example.org", OWNER)):
            client = from_address(address)
            checks.clear()
            self._answers(client, email, settings.login_free_attempts)
            assert len(checks) == settings.login_free_attempts, email
            checks.clear()
            assert _login(client, email, "guess").status_code == 429
            assert checks == [], email


class TestABurstOfGuesses:
    """Concurrent guesses on a real engine (not the tests' one shared connection)."""

    @pytest.fixture
    def served(self) -> Iterator[tuple[FastAPI, str]]:
        with migrated_database() as url:
            settings = make_settings(url)
            engine = create_db_engine(settings)
            with session_scope(create_session_factory(engine)) as db:
                email = make_user(db, settings).email
            engine.dispose()
            yield create_app(settings), email

    def test_only_the_free_attempts_are_answered(
        self, served: tuple[FastAPI, str], clock: datetime
    ) -> None:
        app, email = served
        guesses = 12
        with TestClient(app, client=(ATTACKER, 50000)) as client:
            # Every guess passes the first look at the counters together; the second look,
            # under the counters' lock after the password check, answers all but the free
            # attempts with the wait, so a burst learns no more than single guesses would.
            with ThreadPoolExecutor(max_workers=guesses) as pool:
                answers = list(
                    pool.map(lambda n: _login(client, email, f"guess {n}"), range(guesses))
                )
            statuses = sorted(r.status_code for r in answers)
            free = app.state.settings.login_free_attempts
            assert statuses == [401] * free + [429] * (guesses - free)
            assert _login(client, email, PASSWORD).status_code == 429

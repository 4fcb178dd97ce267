"""The login throttle's rules, on the service: sources, keys, the burst guard, pruning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models import LoginFailure
from practice_dashboard.services.accounts import login_throttle

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


class TestSources:
    @pytest.mark.parametrize(
        ("ip", "source"),
        [
            ("203.0.113.5", "203.0.113.5"),
            ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
            ("2001:DB8:1:2::ffff", "2001:db8:1:2::/64"),
            ("::ffff:203.0.113.5", "203.0.113.5"),
            (None, "unknown"),
            ("testclient", "testclient"),
        ],
    )
    def test_the_source_of_an_address(self, ip: str | None, source: str) -> None:
        assert login_throttle.source_of(ip) == source


class TestKeys:
    def test_the_same_account_whatever_the_case_and_spaces(self, settings: Settings) -> None:
        a = login_throttle.keys_for(settings, email="Robin@Example.org ", ip="203.0.113.5")
        b = login_throttle.keys_for(settings, email="robin@example.org", ip="203.0.113.5")
        assert a == b

    def test_each_source_its_own_pair_and_source_key(self, settings: Settings) -> None:
        a = login_throttle.keys_for(settings, email="robin@example.org", ip="203.0.113.5")
        b = login_throttle.keys_for(settings, email="robin@example.org", ip="203.0.113.6")
        c = login_throttle.keys_for(settings, email="sam@example.org", ip="203.0.113.5")
        assert len({a.pair, b.pair, c.pair}) == 3
        assert a.source == c.source != b.source

    def test_keyed_by_the_secret(self, settings: Settings) -> None:
        other = settings.model_copy(update={"secret_key": SecretStr("another-secret-" + "y" * 32)})
        ours = login_throttle.keys_for(settings, email="robin@example.org", ip="203.0.113.5")
        theirs = login_throttle.keys_for(other, email="robin@example.org", ip="203.0.113.5")
        assert ours.pair != theirs.pair
        assert ours.source != theirs.source


def _rows(db: DbSession) -> dict[str, LoginFailure]:
    db.expire_all()
    return {row.key: row for row in db.scalars(select(LoginFailure))}


class TestSettle:
    def test_a_wait_set_meanwhile_answers_even_the_right_password(
        self, db: DbSession, settings: Settings
    ) -> None:
        # Another attempt of a burst pushed the pair over its free attempts while this
        # password was being hashed: the answer is the wait, and nothing is recorded.
        keys = login_throttle.keys_for(settings, email="robin@example.org", ip="203.0.113.5")
        free = settings.login_free_attempts
        db.add(LoginFailure(key=keys.pair, failures=free, last_failed_at=NOW))
        db.flush()
        for accepted in (True, False):
            wait = login_throttle.settle(db, settings, keys=keys, accepted=accepted, now=NOW)
            assert wait == 1
        assert _rows(db)[keys.pair].failures == free

    def test_a_failure_counts_on_both_and_a_success_clears_the_pair(
        self, db: DbSession, settings: Settings
    ) -> None:
        keys = login_throttle.keys_for(settings, email="robin@example.org", ip="203.0.113.5")
        for _ in range(2):
            assert login_throttle.settle(db, settings, keys=keys, accepted=False, now=NOW) == 0
        assert {k: r.failures for k, r in _rows(db).items()} == {keys.pair: 2, keys.source: 2}
        assert login_throttle.settle(db, settings, keys=keys, accepted=True, now=NOW) == 0
        assert {k: r.failures for k, r in _rows(db).items()} == {keys.source: 2}

    def test_a_first_success_leaves_no_rows(self, db: DbSession, settings: Settings) -> None:
        keys = login_throttle.keys_for(settings, email="robin@example.org", ip="203.0.113.5")
        assert login_throttle.settle(db, settings, keys=keys, accepted=True, now=NOW) == 0
        assert _rows(db) == {}


class TestPrune:
    def test_only_counters_quiet_past_the_window_go(
        self, db: DbSession, settings: Settings
    ) -> None:
        window = timedelta(hours=settings.login_failure_forget_hours)
        for key, at in (("old", NOW - window - timedelta(seconds=1)), ("recent", NOW - window)):
            db.add(LoginFailure(key=key, failures=3, last_failed_at=at))
        db.flush()
        assert login_throttle.prune(db, settings, now=NOW) == 1
        assert set(_rows(db)) == {"recent"}

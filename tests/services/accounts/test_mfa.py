"""Two-factor rules: code window, replay, recovery codes, throttling, enrolment and reset."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlparse

import pyotp
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.errors import Forbidden, Invalid, TooManyRequests, Unauthorized
from practice_dashboard.models import AuditEvent, MfaAuthenticator, MfaRecoveryCode, User
from practice_dashboard.models.enums import Role
from practice_dashboard.security import SEALED_PREFIX, UnsealError
from practice_dashboard.services.accounts import login_session, mfa
from practice_dashboard.services.audit import Actor
from tests.builders import MfaSetup, make_mfa, make_user

T0 = datetime(2026, 6, 1, 9, 0, 10, tzinfo=UTC)  # 10 s into a 30-second step


@pytest.fixture
def user(db: DbSession, settings: Settings) -> User:
    return make_user(db, settings, Role.THERAPIST)


@pytest.fixture
def setup(db: DbSession, settings: Settings, user: User) -> MfaSetup:
    return make_mfa(db, settings, user)


def _verify(db: DbSession, settings: Settings, user: User, code: str, now: datetime = T0) -> None:
    mfa.verify(db, settings, user=user, code=code, now=now, actor=Actor(user))


def _authenticator(db: DbSession, user: User) -> MfaAuthenticator:
    db.expire_all()
    return db.scalars(select(MfaAuthenticator).where(MfaAuthenticator.user_id == user.id)).one()


def _actions(db: DbSession, user: User) -> list[str]:
    db.commit()  # audit rows are written when the unit of work ends
    return list(
        db.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_id == str(user.id), AuditEvent.action.like("mfa%"))
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    )


class TestCodes:
    @pytest.mark.parametrize("steps", [-1, 0, 1])
    def test_a_code_one_step_either_side_is_accepted(
        self, db: DbSession, settings: Settings, user: User, setup: MfaSetup, steps: int
    ) -> None:
        _verify(db, settings, user, setup.code(T0, steps=steps))
        assert (
            _authenticator(db, user).last_used_step == pyotp.TOTP(setup.secret).timecode(T0) + steps
        )
        assert _actions(db, user) == [mfa.PASSED]

    @pytest.mark.parametrize("steps", [-2, 2])
    def test_a_code_two_steps_away_is_refused(
        self, db: DbSession, settings: Settings, user: User, setup: MfaSetup, steps: int
    ) -> None:
        with pytest.raises(Unauthorized):
            _verify(db, settings, user, setup.code(T0, steps=steps))
        assert _authenticator(db, user).failed_count == 1
        assert _actions(db, user) == [mfa.FAILED]

    def test_a_code_is_never_accepted_twice(
        self, db: DbSession, settings: Settings, user: User, setup: MfaSetup
    ) -> None:
        code = setup.code(T0)
        _verify(db, settings, user, code)
        with pytest.raises(Unauthorized, match="already used"):
            _verify(db, settings, user, code, T0 + timedelta(seconds=5))
        # Nor an older step's code, though still inside the window.
        with pytest.raises(Unauthorized):
            _verify(db, settings, user, setup.code(T0, steps=-1), T0 + timedelta(seconds=6))
        # The next step's code is fine.
        _verify(db, settings, user, setup.code(T0, steps=1), T0 + timedelta(seconds=30))

    def test_spaces_around_and_inside_are_ignored(
        self, db: DbSession, settings: Settings, user: User, setup: MfaSetup
    ) -> None:
        code = setup.code(T0)
        _verify(db, settings, user, f" {code[:3]} {code[3:]} ")

    def test_an_account_without_a_second_factor_is_refused(
        self, db: DbSession, settings: Settings, user: User
    ) -> None:
        with pytest.raises(Unauthorized, match="not set up"):
            _verify(db, settings, user, "123456")


class TestRecoveryCodes:
    def test_ten_codes_stored_only_as_hashes(
        self, db: DbSession, user: User, setup: MfaSetup
    ) -> None:
        assert len(setup.recovery_codes) == mfa.RECOVERY_CODE_COUNT == 10
        assert len(set(setup.recovery_codes)) == 10
        stored = set(
            db.scalars(select(MfaRecoveryCode.code_hash).where(MfaRecoveryCode.user_id == user.id))
        )
        expected = {
            hashlib.sha256(code.replace("-", "").encode()).hexdigest()
            for code in setup.recovery_codes
        }
        assert stored == expected
        assert not stored & {c.replace("-", "") for c in setup.recovery_codes}

    def test_a_recovery_code_works_once(
        self, db: DbSession, settings: Settings, user: User, setup: MfaSetup
    ) -> None:
        code = setup.recovery_codes[3]
        _verify(db, settings, user, code)
        assert mfa.status(db, user.id).recovery_codes_left == 9
        with pytest.raises(Unauthorized):
            _verify(db, settings, user, code)
        assert _actions(db, user) == [mfa.RECOVERY_USED, mfa.FAILED]

    def test_typed_loosely_it_still_counts(
        self, db: DbSession, settings: Settings, user: User, setup: MfaSetup
    ) -> None:
        # Upper case, no dashes, and "O" for zero / "I" or "L" for one, as people misread.
        code = setup.recovery_codes[0].replace("-", "").upper()
        misread = code.replace("0", "O").replace("1", "l")
        _verify(db, settings, user, misread)

    def test_another_accounts_code_is_refused(
        self, db: DbSession, settings: Settings, user: User, setup: MfaSetup
    ) -> None:
        other = make_user(db, settings)
        make_mfa(db, settings, other)
        with pytest.raises(Unauthorized):
            _verify(db, settings, other, setup.recovery_codes[0])

    def test_renewing_needs_an_app_code_and_voids_the_old_codes(
        self, db: DbSession, settings: Settings, user: User, setup: MfaSetup
    ) -> None:
        with pytest.raises(Unauthorized):
            mfa.renew_recovery_codes(
                db, settings, user=user, code=setup.recovery_codes[0], now=T0, actor=Actor(user)
            )
        fresh = mfa.renew_recovery_codes(
            db, settings, user=user, code=setup.code(T0), now=T0, actor=Actor(user)
        )
        assert len(fresh) == 10
        assert not set(fresh) & set(setup.recovery_codes)
        with pytest.raises(Unauthorized):
            _verify(db, settings, user, setup.recovery_codes[1])
        _verify(db, settings, user, fresh[0])
        assert mfa.RECOVERY_RENEWED in _actions(db, user)


class TestThrottling:
    def test_wrong_codes_make_the_account_wait_even_for_a_right_code(
        self, db: DbSession, settings: Settings, user: User, setup: MfaSetup
    ) -> None:
        for _ in range(settings.mfa_code_free_attempts):
            with pytest.raises(Unauthorized) as wrong:
                _verify(db, settings, user, "000000")
            assert wrong.value.keep_changes  # the count survives the failed request
        with pytest.raises(TooManyRequests) as waiting:
            _verify(db, settings, user, setup.code(T0))
        assert waiting.value.headers == {"Retry-After": "1"}
        # The wait passes; a right code then clears the count.
        _verify(db, settings, user, setup.code(T0), T0 + timedelta(seconds=1))
        assert _authenticator(db, user).failed_count == 0

    def test_the_wait_doubles_up_to_the_ceiling(
        self, db: DbSession, settings: Settings, user: User, setup: MfaSetup
    ) -> None:
        found = _authenticator(db, user)
        found.failed_count = settings.mfa_code_free_attempts + 30
        found.last_failed_at = T0
        db.flush()
        with pytest.raises(TooManyRequests) as waiting:
            _verify(db, settings, user, setup.code(T0))
        assert waiting.value.headers == {"Retry-After": str(settings.mfa_code_max_delay_seconds)}


class TestEnrolment:
    def test_the_key_stays_the_same_until_confirmed(
        self, db: DbSession, settings: Settings, user: User
    ) -> None:
        first = mfa.start_enrolment(db, settings, user=user)
        again = mfa.start_enrolment(db, settings, user=user)
        assert first == again
        assert len(first.secret) >= 32  # 160 bits
        assert not mfa.is_enrolled(db, user.id)

    def test_the_key_is_stored_sealed(self, db: DbSession, settings: Settings, user: User) -> None:
        enrolment = mfa.start_enrolment(db, settings, user=user)
        stored = db.scalars(select(MfaAuthenticator.secret)).one()
        assert stored.startswith(SEALED_PREFIX)
        assert enrolment.secret not in stored

    def test_two_tabs_starting_at_once_get_the_same_key(
        self, db: DbSession, settings: Settings, user: User, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        first = mfa.start_enrolment(db, settings, user=user)
        real = mfa._authenticator
        calls = iter([None])
        # The second tab looked before the first one's row was there.
        monkeypatch.setattr(
            mfa, "_authenticator", lambda db, user_id: next(calls, real(db, user_id))
        )
        assert mfa.start_enrolment(db, settings, user=user) == first
        assert len(db.scalars(select(MfaAuthenticator)).all()) == 1

    def test_the_uri_names_the_practice_and_the_account(
        self, db: DbSession, settings: Settings, user: User
    ) -> None:
        enrolment = mfa.start_enrolment(db, settings, user=user)
        uri = urlparse(enrolment.uri)
        query = parse_qs(uri.query)
        assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
        assert query["secret"] == [enrolment.secret]
        assert query["issuer"] == [settings.practice_name]
        assert unquote(uri.path) == f"/{settings.practice_name}:{user.email}"

    def test_a_right_code_turns_it_on_and_gives_recovery_codes(
        self, db: DbSession, settings: Settings, user: User
    ) -> None:
        enrolment = mfa.start_enrolment(db, settings, user=user)
        with pytest.raises(Invalid) as wrong:
            mfa.confirm_enrolment(db, settings, user=user, code="000000", now=T0, actor=Actor(user))
        assert wrong.value.problems[0]["loc"] == ["body", "code"]
        assert not mfa.is_enrolled(db, user.id)
        code = pyotp.TOTP(enrolment.secret).at(T0)
        codes = mfa.confirm_enrolment(db, settings, user=user, code=code, now=T0, actor=Actor(user))
        assert len(codes) == 10
        assert mfa.is_enrolled(db, user.id)
        assert mfa.status(db, user.id).enabled_at == T0
        assert _actions(db, user) == [mfa.ENROLLED]
        # The code that confirmed it cannot also log in.
        with pytest.raises(Unauthorized):
            _verify(db, settings, user, code)

    def test_once_on_it_cannot_be_replaced_without_a_reset(
        self, db: DbSession, settings: Settings, user: User, setup: MfaSetup
    ) -> None:
        with pytest.raises(Forbidden):
            mfa.start_enrolment(db, settings, user=user)
        with pytest.raises(Invalid):
            mfa.confirm_enrolment(
                db, settings, user=user, code=setup.code(T0), now=T0, actor=Actor(user)
            )


class TestReset:
    def test_reset_removes_the_factor_and_ends_logins(
        self, db: DbSession, settings: Settings, user: User, setup: MfaSetup
    ) -> None:
        admin = make_user(db, settings, Role.ADMIN)
        _, login = login_session.start(db, settings, user=user, now=T0, ip=None)
        generation = user.token_generation
        mfa.reset(db, user=user, now=T0, actor=Actor(admin))
        db.commit()  # the unit of work ends: its audit rows are written
        db.expire_all()
        assert not mfa.is_enrolled(db, user.id)
        assert db.scalars(select(MfaAuthenticator)).all() == []
        assert db.scalars(select(MfaRecoveryCode)).all() == []
        assert login.ended_at is not None
        assert user.token_generation == generation + 1
        event = db.scalars(select(AuditEvent).where(AuditEvent.action == mfa.RESET)).one()
        assert (event.actor_id, event.entity, event.entity_id) == (admin.id, "user", str(user.id))
        # The person can set up a new authenticator straight away.
        assert mfa.start_enrolment(db, settings, user=user).secret != setup.secret


class TestTokenRule:
    def test_needed_for_an_enrolled_account(
        self, db: DbSession, settings: Settings, user: User, setup: MfaSetup
    ) -> None:
        with pytest.raises(Unauthorized, match="otp"):
            mfa.check_for_token(db, settings, user=user, otp=None, now=T0, actor=Actor(user))
        mfa.check_for_token(db, settings, user=user, otp=setup.code(T0), now=T0, actor=Actor(user))

    def test_refused_without_a_factor_when_the_practice_requires_one(
        self, db: DbSession, settings: Settings, user: User
    ) -> None:
        mfa.check_for_token(db, settings, user=user, otp=None, now=T0, actor=Actor(user))
        strict = settings.model_copy(update={"require_mfa": True})
        with pytest.raises(Forbidden, match="browser"):
            mfa.check_for_token(db, strict, user=user, otp=None, now=T0, actor=Actor(user))


class TestReseal:
    def test_plain_and_sealed_keys_move_to_the_first_mfa_key(
        self, db: DbSession, settings: Settings, user: User, setup: MfaSetup
    ) -> None:
        plain = make_user(db, settings)
        legacy = make_mfa(db, settings, plain)
        found = _authenticator(db, plain)
        found.secret = legacy.secret  # stored before sealing
        db.flush()
        # A plain key still logs in.
        _verify(db, settings, plain, legacy.code(T0))
        rotated = settings.model_copy(
            update={"mfa_keys": SecretStr(base64.urlsafe_b64encode(b"k" * 32).decode())}
        )
        assert mfa.reseal_all(db, rotated) == 2
        db.expire_all()
        keys = db.scalars(select(MfaAuthenticator.secret)).all()
        assert all(k.startswith(SEALED_PREFIX) for k in keys)
        assert legacy.secret not in keys
        assert setup.secret not in keys
        # Only the new key is needed from now on, whatever SECRET_KEY becomes.
        only_new = rotated.model_copy(update={"secret_key": SecretStr("z" * 40)})
        _verify(db, only_new, user, setup.code(T0))
        _verify(db, only_new, plain, legacy.code(T0, steps=1))

    def test_a_key_nothing_opens_stops_it_before_any_change(
        self, db: DbSession, settings: Settings, user: User, setup: MfaSetup
    ) -> None:
        before = db.scalars(select(MfaAuthenticator.secret)).all()
        stranger = settings.model_copy(update={"secret_key": SecretStr("q" * 40)})
        with pytest.raises(UnsealError):
            mfa.reseal_all(db, stranger)
        db.expire_all()
        assert db.scalars(select(MfaAuthenticator.secret)).all() == before
